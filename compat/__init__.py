"""The old-Gradio compatibility suite (`make compat`); see conftest.py."""
