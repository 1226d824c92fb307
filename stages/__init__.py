"""synthbert: a DVC pipeline that trains BERT-family classifiers on synthetic (LLM-generated) text.

The seven DVC stages are the modules at this level (generate, split, audit, train, evaluate, explain, report),
each a `run(...)` of named steps and a thin `main()`. Beside each stage its workshop (generation/, auditing/,
training/, evaluation/, explanation/), `core/` for what every stage may use, and `tools/` for the user commands
(predict, compare, sweep). Importing the package does no work.
"""
