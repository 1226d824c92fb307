"""Workshop of the generate stage: task files, providers (template, csv, openai), the LLM client and its
cache, cleaning and the data-quality report."""
