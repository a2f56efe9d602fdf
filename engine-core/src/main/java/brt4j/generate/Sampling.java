package brt4j.generate;

/**
 * How the next token is chosen from the logits: greedy (temperature 0), or sampled at a temperature from the
 * top-k tokens and the top-p nucleus (0 switches either filter off), with a seed for reproducible output.
 */
public record Sampling(double temperature, int topK, double topP, long seed) {
    public Sampling {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0 = off), got " + topK);
        if (!(topP >= 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in [0, 1] (0 or 1 = off), got " + topP);
    }

    public static Sampling greedy() { return new Sampling(0, 0, 0, 0); }
}
