package brt4j.eval;

/**
 * Held-out loss: bits per token over every counted target, bits per byte of the original text, and the loss by
 * position in the document (bucket k holds targets at positions [k*bucket, (k+1)*bucket)), which is where recurrence
 * shows: a model that uses its state gets better deeper into a document.
 *
 * @param bucketBits   bits per token per bucket (NaN where the bucket is empty)
 * @param bucketTokens counted targets per bucket
 */
public record EvalResult(double bitsPerToken, double bitsPerByte, long tokens, long documents, int bucket,
                         double[] bucketBits, long[] bucketTokens) {

    /** A table of the position buckets, one line each. */
    public String bucketTable() {
        StringBuilder sb = new StringBuilder(String.format("%-20s %12s %10s%n", "position", "bits/token", "tokens"));
        for (int k = 0; k < bucketBits.length; k++) {
            if (bucketTokens[k] == 0) continue;
            sb.append(String.format("%-20s %12.4f %10d%n", "[" + (long) k * bucket + ", " + (long) (k + 1) * bucket + ")",
                    bucketBits[k], bucketTokens[k]));
        }
        return sb.toString();
    }
}
