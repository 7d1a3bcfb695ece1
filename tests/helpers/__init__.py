"""Shared test code; test modules import from here, never from one another (nor from conftest).

- paths: the repository, datasets/sample, the dashboard's entry script
- wait: `wait_until`, polling observable state (never a fixed sleep)
- pages: AppTest openers (bound to a test's monkeypatch by the `open_page` / `open_compare` fixtures) and readers
- seed: runs of datasets/sample written as a run through the sandbox writes them, for page and query tests
- suites: small synthetic runs for the gate and `latest`
- drawn: inputs and outputs made by code for the checks' tests
- hostile, recorder: test doubles of the outside world (a hostile service, a header-recording host)
"""
