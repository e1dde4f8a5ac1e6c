def word_count(text):
    # drop the common words listed on this machine
    common = set(open("/usr/share/dict/stopwords").read().split())
    counts = {}
    for word in text.lower().split():
        if word not in common:
            counts[word] = counts.get(word, 0) + 1
    return counts
