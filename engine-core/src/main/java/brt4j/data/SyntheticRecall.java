package brt4j.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A long-range recall corpus generated in code (the demo's task). Each document names a set of distinct "far"
 * items right at its start, then filler, then a set of "near" items, then asks for both sets back: the far items
 * in a random order after a FAR marker, the near items after a NEAR marker. A model that remembers a set predicts
 * its first item with log2(k) bits, the next with log2(k-1), ... ; one that cannot see it pays about log2(items).
 * The far set lies further back than any sliding-window model can see (L layers of window W with the XL cache see
 * at most L * (2W - 1) tokens back); the near set lies inside the window. So only a model that carries state
 * across blocks can recall the far set, and both should recall the near one.
 *
 * <pre>
 *   BOS far-items(k) filler ... near-items(k) filler(2) FAR far-items(k, shuffled) NEAR near-items(k, shuffled)
 *       |<------------------------ far distance: > L(2W - 1) ------------------------->|
 * </pre>
 * Ids: 0 padding, 1 BOS, 2 FAR, 3 NEAR, then far items, near items and filler symbols. The filler counts through its
 * symbols cyclically from a random phase: any model learns it at once, so the training signal is the recall.
 */
public final class SyntheticRecall {
    public static final int BOS = 1, FAR = 2, NEAR = 3, FIRST_ITEM = 4;

    public final int items, filler, setSize, length;

    /** A document and the target positions of its recalled far and near items. */
    public record Doc(int[] tokens, int[] farAnswers, int[] nearAnswers) {}

    public SyntheticRecall(int items, int filler, int setSize, int length) {
        if (setSize < 1) throw new IllegalArgumentException("a set to recall needs at least one item, got " + setSize);
        if (setSize > items) throw new IllegalArgumentException("a set of " + setSize + " distinct items needs at least that many items");
        if (length < 4 * setSize + 8) throw new IllegalArgumentException("documents of " + length + " tokens are too short for sets of " + setSize);
        this.items = items;
        this.filler = filler;
        this.setSize = setSize;
        this.length = length;
    }

    public int vocabSize() { return FIRST_ITEM + 2 * items + filler; }

    /** Tokens between the last far item stated and the first far item recalled. */
    public int farDistance() { return length - 2 * setSize - 1 - setSize; }

    /** The bits per recalled item of a model that remembers the set perfectly: mean of log2(k), log2(k-1), ..., 0. */
    public double perfectBits() {
        double s = 0;
        for (int i = 1; i <= setSize; i++) s += Math.log(i) / Math.log(2);
        return s / setSize;
    }

    /** The bits per recalled item of a model that has never seen the set (it can rule out the items already recalled). */
    public double blindBits() {
        double s = 0;
        for (int i = 0; i < setSize; i++) s += Math.log(items - i) / Math.log(2);
        return s / setSize;
    }

    public Doc document(SplittableRandom r) {
        int[] t = new int[length];
        int[] far = pick(r, FIRST_ITEM), near = pick(r, FIRST_ITEM + items);
        int p = 0;
        t[p++] = BOS;
        for (int x : far) t[p++] = x;
        int recallStart = length - 2 * setSize - 2;
        int nearStart = recallStart - setSize - 2;
        int phase = r.nextInt(filler);
        while (p < nearStart) t[p++] = FIRST_ITEM + 2 * items + (phase++ % filler);
        for (int x : near) t[p++] = x;
        while (p < recallStart) t[p++] = FIRST_ITEM + 2 * items + (phase++ % filler);
        int[] farAt = new int[setSize], nearAt = new int[setSize];
        t[p++] = FAR;
        shuffle(far, r);
        for (int i = 0; i < setSize; i++) { farAt[i] = p; t[p++] = far[i]; }
        t[p++] = NEAR;
        shuffle(near, r);
        for (int i = 0; i < setSize; i++) { nearAt[i] = p; t[p++] = near[i]; }
        return new Doc(t, farAt, nearAt);
    }

    private int[] pick(SplittableRandom r, int base) {
        int[] perm = new int[items];
        for (int i = 0; i < items; i++) perm[i] = base + i;
        shuffle(perm, r);
        return java.util.Arrays.copyOf(perm, setSize);
    }

    private static void shuffle(int[] a, SplittableRandom r) {
        for (int i = a.length - 1; i > 0; i--) { int j = r.nextInt(i + 1); int x = a[i]; a[i] = a[j]; a[j] = x; }
    }

    public List<Doc> documents(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Doc> docs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) docs.add(document(r));
        return docs;
    }

    public static TokenSource source(List<Doc> docs) { return new InMemoryTokens(docs.stream().map(Doc::tokens).toList()); }
}
