package brt4j.tokenizer;

import java.util.Arrays;

/**
 * A byte-keyed double-array trie from piece text (UTF-8) to piece id, built once per model. Node {@code s} moves on
 * byte {@code b} to {@code t = base[s] + b + 1} when {@code check[t] == s}. Base, check and value are interleaved
 * in one int array so one step touches one cache line. The array has 257 spare slots past the last base, so a step
 * never needs a bounds test beyond the one the JVM makes.
 *
 * <p>This is our own structure, not SentencePiece's Darts trie: only the mapping matters for exactness.
 */
final class PieceTrie {
    static final int ROOT = 0;
    /** {@link #step} result when there is no edge. */
    static final int NONE = -1;

    /** Per node: [3*s] base, [3*s+1] check (parent node, -1 for a free slot), [3*s+2] value (id or -1). */
    private final int[] cells;

    private PieceTrie(int[] cells) {
        this.cells = cells;
    }

    /** The next node from {@code node} on byte {@code b}, or {@link #NONE}. */
    int step(int node, byte b) {
        int t = cells[3 * node] + (b & 0xFF) + 1;
        return cells[3 * t + 1] == node ? t : NONE;
    }

    /** The id stored at {@code node}, or -1 if no key ends there. */
    int value(int node) {
        return cells[3 * node + 2];
    }

    /** The id of {@code key[from, to)}, or -1. */
    int get(byte[] key, int from, int to) {
        int node = ROOT;
        for (int i = from; i < to; i++) {
            node = step(node, key[i]);
            if (node == NONE) return -1;
        }
        return value(node);
    }

    /** The length of the longest key that is a prefix of {@code key[from, to)}, or 0. */
    int longestPrefix(byte[] key, int from, int to) {
        int node = ROOT, longest = 0;
        for (int i = from; i < to; i++) {
            node = step(node, key[i]);
            if (node == NONE) break;
            if (value(node) >= 0) longest = i + 1 - from;
        }
        return longest;
    }

    /** Whether some key starts with byte {@code b}. */
    boolean hasEdge(byte b) {
        return step(ROOT, b) != NONE;
    }

    /** Builds the trie; keys must be distinct and non-empty, values non-negative. */
    static PieceTrie build(byte[][] keys, int[] values) {
        Integer[] order = new Integer[keys.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(keys[a], keys[b]));
        byte[][] sortedKeys = new byte[keys.length][];
        int[] sortedValues = new int[keys.length];
        for (int i = 0; i < order.length; i++) {
            sortedKeys[i] = keys[order[i]];
            sortedValues[i] = values[order[i]];
        }
        Builder builder = new Builder(Math.max(1024, keys.length * 4));
        builder.build(sortedKeys, sortedValues);
        return new PieceTrie(builder.finish());
    }

    /**
     * Places nodes first-fit. Empty slots below {@code limit} are kept in a doubly linked list so the search for a
     * base skips occupied slots (a plain scan made building a million-piece trie quadratic); slots from
     * {@code limit} on are all empty.
     */
    private static final class Builder {
        int[] base, check, value, nextEmpty, previousEmpty;
        int limit = 1;         // slots >= limit are empty and not in the list; slot 0 is the root
        int head = -1, tail = -1;

        Builder(int capacity) {
            base = new int[capacity];
            check = new int[capacity];
            value = new int[capacity];
            nextEmpty = new int[capacity];
            previousEmpty = new int[capacity];
            Arrays.fill(check, -1);
            Arrays.fill(value, -1);
            check[0] = -2;
        }

        /** Places all nodes depth-first with an explicit stack, so a very long key cannot overflow the call stack. */
        void build(byte[][] keys, int[] values) {
            java.util.ArrayDeque<int[]> stack = new java.util.ArrayDeque<>();
            stack.push(new int[]{0, 0, keys.length, 0});
            while (!stack.isEmpty()) {
                int[] task = stack.pop();
                buildNode(task[0], keys, values, task[1], task[2], task[3], stack);
            }
        }

        /** Places the children of {@code node}, which stands for the common prefix of keys[lo, hi) up to depth. */
        void buildNode(int node, byte[][] keys, int[] values, int lo, int hi, int depth, java.util.ArrayDeque<int[]> stack) {
            if (lo < hi && keys[lo].length == depth) {
                value[node] = values[lo];
                lo++;
            }
            if (lo >= hi) return;
            // Keys are sorted, so each child is a run of keys sharing the byte at this depth.
            int count = 0;
            for (int i = lo, previous = -1; i < hi; i++) {
                int b = keys[i][depth] & 0xFF;
                if (b != previous) {
                    count++;
                    previous = b;
                }
            }
            int[] labels = new int[count];
            int[] starts = new int[count + 1];
            for (int i = lo, k = 0, previous = -1; i < hi; i++) {
                int b = keys[i][depth] & 0xFF;
                if (b != previous) {
                    labels[k] = b;
                    starts[k++] = i;
                    previous = b;
                }
            }
            starts[count] = hi;
            int b = findBase(labels, count);
            base[node] = b;
            for (int k = 0; k < count; k++) occupy(b + labels[k] + 1, node);
            for (int k = count - 1; k >= 0; k--) {
                stack.push(new int[]{b + labels[k] + 1, starts[k], starts[k + 1], depth + 1});
            }
        }

        private int findBase(int[] labels, int count) {
            for (int slot = head; slot >= 0; slot = nextEmpty[slot]) {
                int b = slot - labels[0] - 1;
                if (b >= 0 && fits(b, labels, count)) return b;
            }
            int b = Math.max(0, limit - labels[0] - 1);
            while (!fits(b, labels, count)) b++;
            return b;
        }

        private boolean fits(int b, int[] labels, int count) {
            ensure(b + 258);
            for (int k = 0; k < count; k++) if (check[b + labels[k] + 1] != -1) return false;
            return true;
        }

        private void occupy(int slot, int parent) {
            ensure(slot + 258);
            if (slot < limit) {
                // Unlink from the empty list.
                int p = previousEmpty[slot], n = nextEmpty[slot];
                if (p >= 0) nextEmpty[p] = n;
                else head = n;
                if (n >= 0) previousEmpty[n] = p;
                else tail = p;
            } else {
                for (int s = limit; s < slot; s++) { // slots skipped over join the empty list
                    previousEmpty[s] = tail;
                    nextEmpty[s] = -1;
                    if (tail >= 0) nextEmpty[tail] = s;
                    else head = s;
                    tail = s;
                }
                limit = slot + 1;
            }
            check[slot] = parent;
        }

        private void ensure(int capacity) {
            if (capacity <= check.length) return;
            int n = Math.max(capacity, check.length * 2);
            int old = check.length;
            base = Arrays.copyOf(base, n);
            check = Arrays.copyOf(check, n);
            value = Arrays.copyOf(value, n);
            nextEmpty = Arrays.copyOf(nextEmpty, n);
            previousEmpty = Arrays.copyOf(previousEmpty, n);
            Arrays.fill(check, old, n, -1);
            Arrays.fill(value, old, n, -1);
        }

        int[] finish() {
            int maxBase = 0;
            for (int s = 0; s < limit; s++) if (check[s] != -1) maxBase = Math.max(maxBase, base[s]);
            int n = Math.max(limit, maxBase + 258);
            ensure(n);
            int[] cells = new int[3 * n];
            for (int s = 0; s < n; s++) {
                cells[3 * s] = check[s] == -1 ? 0 : base[s];
                cells[3 * s + 1] = s == 0 ? -2 : check[s];
                cells[3 * s + 2] = value[s];
            }
            return cells;
        }
    }
}
