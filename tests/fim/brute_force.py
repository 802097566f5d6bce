"""Reference miners for the fim tests: plain definitions, no cleverness, small inputs only."""
import itertools


def frequent_itemsets(transactions, min_support, max_size=0):
    """{itemset tuple: support} for every frequent itemset of at most max_size items (0: any)."""
    items = sorted(set().union(*transactions)) if transactions else []
    found = {}
    for size in range(1, (max_size or len(items)) + 1):
        any_frequent = False
        for candidate in itertools.combinations(items, size):
            support = sum(1 for t in transactions if set(candidate) <= t)
            if support >= min_support:
                found[candidate] = support
                any_frequent = True
        if not any_frequent:
            break
    return found
