package brt4j.data;

import java.util.List;

/** Documents held as int arrays: synthetic corpora and tests. Each document's bytes count equals its token count. */
public final class InMemoryTokens implements TokenSource {
    private final List<int[]> docs;

    public InMemoryTokens(List<int[]> docs) { this.docs = List.copyOf(docs); }

    @Override public int docCount() { return docs.size(); }

    @Override public long length(int doc) { return docs.get(doc).length; }

    @Override public long bytes(int doc) { return docs.get(doc).length; }

    @Override public long nameHash(int doc) { return Split.hash("doc" + doc); }

    @Override public void read(int doc, long from, int[] dst, int off, int len) {
        System.arraycopy(docs.get(doc), Math.toIntExact(from), dst, off, len);
    }
}
