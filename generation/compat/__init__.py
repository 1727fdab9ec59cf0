"""Surfaces shaped like other vendors' APIs, so existing SDK code only changes its base URL.

`openai.py` speaks OpenAI's Images API under /v1, `gemini.py` speaks Gemini's generateContent under
/{v1,v1beta,v1alpha}. Both submit ordinary jobs through `generation.services`, wait for them with
`generation.waiting` (async views, no thread pinned), and render errors with their own handler.
"""
