"""The Streamlit dashboard. Pages render what vton_eval returns; no SQL or logic lives here."""
