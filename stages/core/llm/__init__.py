"""The LLM client that generate and evaluate's llm_zero_shot baseline share, below both stages: `client` (fetch: concurrent,
retried, budgeted requests), `cache` (the workspace's DVC-tracked record of the responses a run used), `store` (the
machine's content-addressed store every workspace copy reads before asking, with its cross-process locks), `reply`
(what an HTTP reply says before anything is stored), `usage` (tokens, their price, the estimate before sending),
`wire` (the body sent: structured-output fallback, reasoning models), `batch` (the OpenAI Batch API path), `request`
(Request, Outcome, LLMError) and `classify` (the request and answer format of texts labelled by a model: the
baseline, generate's judge and llm_label provider)."""
