"""synthbert: a DVC pipeline that trains BERT-family classifiers on synthetic (LLM-generated) text.

One module per stage (generate, split, train, evaluate, explain), each with a pure `run()` and a thin
`main()`; helpers in params, io, text, modeling and cli. Importing the package does no work.
"""
