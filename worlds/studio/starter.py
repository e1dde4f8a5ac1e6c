def word_count(text):
    """How often each word occurs in text (to be written)."""
    return {}
