package brt4j.tokenizer;

import java.util.Arrays;

/**
 * The priority queue of candidate merges for BPE: highest score first, then leftmost. Entries go stale when a
 * neighbour merges; the segmenter skips those when they come out (as SentencePiece does), so order among a stale
 * and a live entry never matters and (score, left) fully decides the result.
 */
final class BpeAgenda {
    private float[] score = new float[64];
    private int[] left = new int[64], right = new int[64], size = new int[64];
    private int[] heap = new int[64];
    private int entries, heapSize;

    void clear() {
        entries = 0;
        heapSize = 0;
    }

    boolean isEmpty() {
        return heapSize == 0;
    }

    void push(float s, int l, int r, int n) {
        if (entries == score.length) {
            int cap = entries * 2;
            score = Arrays.copyOf(score, cap);
            left = Arrays.copyOf(left, cap);
            right = Arrays.copyOf(right, cap);
            size = Arrays.copyOf(size, cap);
            heap = Arrays.copyOf(heap, cap);
        }
        int e = entries++;
        score[e] = s;
        left[e] = l;
        right[e] = r;
        size[e] = n;
        int i = heapSize++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!before(e, heap[parent])) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = e;
    }

    /** Removes the best entry and returns its index, for {@link #left}, {@link #right} and {@link #size}. */
    int pop() {
        int top = heap[0];
        int last = heap[--heapSize];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= heapSize) break;
            if (child + 1 < heapSize && before(heap[child + 1], heap[child])) child++;
            if (!before(heap[child], last)) break;
            heap[i] = heap[child];
            i = child;
        }
        if (heapSize > 0) heap[i] = last;
        return top;
    }

    int left(int e) { return left[e]; }

    int right(int e) { return right[e]; }

    int size(int e) { return size[e]; }

    private boolean before(int a, int b) {
        return score[a] > score[b] || (score[a] == score[b] && left[a] < left[b]);
    }
}
