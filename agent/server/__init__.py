"""facegate behind LangGraph's server (``pip install 'facegate[server]'``, ``langgraph dev``).

``graph`` is the factory ``langgraph.json`` names, ``auth`` the API-key hook and role rules, ``admission`` what a
run may ask of a thread, ``launch`` starts and stops ``langgraph dev`` for tests and ``facegate eval load``.
Nothing here is imported by the rest of ``agent``.
"""
