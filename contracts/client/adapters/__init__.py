"""Reference clients for `ftl-gate client`, each a standalone program that speaks its protocol.

`httpx_sse_client.py` (Python, httpx-sse), `fetch_client.mjs` (Node 20, fetch and a WHATWG parser) and
`naive_hook_client.mjs` (the platform's browser hook as reference §3.2 describes it, which fails on purpose).
"""
