package brt4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The model configuration, with the field names of config.json (design.md). Validated on construction: a config
 * that cannot run is refused with one sentence naming the field. {@code recurrentLayers} is kept normalized:
 * 0-based, ascending, negative indices of the input counted from the top (the paper's {@code (-3,)}).
 */
public record ModelConfig(int vocabSize, int dModel, int nLayers, int nHeads, int headDim, int dFf, int window,
                          int segment, int nStates, int[] recurrentLayers, Gate gate, StateFfn stateFfn,
                          boolean feedback, boolean xlCache, LogitScale logitScale, int relBuckets,
                          int relMaxDistance, double normEps, double dropout, double attnDropout) {

    public enum Gate { FIXED, LSTM }

    public enum StateFfn { SKIP, SINGLE, DUAL }

    public enum LogitScale {
        INV_SQRT_VOCAB, INV_SQRT_D, NONE;

        public double factor(ModelConfig c) {
            return switch (this) {
                case INV_SQRT_VOCAB -> 1 / Math.sqrt(c.vocabSize());
                case INV_SQRT_D -> 1 / Math.sqrt(c.dModel());
                case NONE -> 1;
            };
        }
    }

    public ModelConfig {
        positive("vocab_size", vocabSize);
        positive("d_model", dModel);
        positive("n_layers", nLayers);
        positive("n_heads", nHeads);
        positive("head_dim", headDim);
        positive("d_ff", dFf);
        positive("window", window);
        positive("segment", segment);
        positive("n_states", nStates);
        positive("rel_buckets", relBuckets);
        positive("rel_max_distance", relMaxDistance);
        if (relBuckets < 2) throw bad("rel_buckets must be at least 2, got " + relBuckets);
        if (segment % window != 0) throw bad("segment (" + segment + ") must be a multiple of window (" + window + ")");
        if (!xlCache && segment > window) {
            throw bad("xl_cache false is allowed only where the segment (" + segment + ") is no longer than the window (" + window + ")");
        }
        if (!(normEps > 0)) throw bad("norm_eps must be positive, got " + normEps);
        if (!(dropout >= 0 && dropout < 1)) throw bad("dropout must be in [0, 1), got " + dropout);
        if (!(attnDropout >= 0 && attnDropout < 1)) throw bad("attn_dropout must be in [0, 1), got " + attnDropout);
        if (gate == null || stateFfn == null || logitScale == null) throw bad("gate, state_ffn and logit_scale are required");
        recurrentLayers = normalizeLayers(recurrentLayers == null ? new int[0] : recurrentLayers, nLayers);
        if (feedback && recurrentLayers.length == 0) throw bad("feedback needs at least one recurrent layer in recurrent_layers");
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw bad(field + " must be positive, got " + v);
    }

    static IllegalArgumentException bad(String msg) { return new IllegalArgumentException("config: " + msg); }

    private static int[] normalizeLayers(int[] layers, int nLayers) {
        int[] r = new int[layers.length];
        for (int i = 0; i < layers.length; i++) {
            int l = layers[i] < 0 ? nLayers + layers[i] : layers[i];
            if (l < 0 || l >= nLayers) {
                throw bad("recurrent_layers entry " + layers[i] + " is outside the " + nLayers + " layers");
            }
            r[i] = l;
        }
        Arrays.sort(r);
        for (int i = 1; i < r.length; i++) {
            if (r[i] == r[i - 1]) throw bad("recurrent_layers names layer " + r[i] + " twice");
        }
        return r;
    }

    // ---------------------------------------------------------------- derived

    /** Attention inner width H*D. */
    public int hd() { return nHeads * headDim; }

    /** Blocks per segment. */
    public int blocks() { return segment / window; }

    public boolean isRecurrent(int layer) { return Arrays.binarySearch(recurrentLayers, layer) >= 0; }

    /** The recurrent layer whose state the other layers read in feedback mode: the highest one (design.md). */
    public int feedbackSource() { return recurrentLayers[recurrentLayers.length - 1]; }

    /** Whether layer i cross-attends to a state: its own (recurrent) or the feedback source's. */
    public boolean readsState(int layer) { return isRecurrent(layer) || feedback; }

    /** Width of the recurrent cell's (first) gate input: h (2HD) for skip and dual, the FFN hidden u for single. */
    public int gateInputWidth() { return stateFfn == StateFfn.SINGLE ? dFf : 2 * hd(); }

    public ModelConfig withWindowSegment(int w, int n) {
        return new ModelConfig(vocabSize, dModel, nLayers, nHeads, headDim, dFf, w, n, nStates, recurrentLayers, gate, stateFfn,
                feedback, xlCache, logitScale, relBuckets, relMaxDistance, normEps, dropout, attnDropout);
    }

    public ModelConfig withDropout(double drop, double attnDrop) {
        return new ModelConfig(vocabSize, dModel, nLayers, nHeads, headDim, dFf, window, segment, nStates, recurrentLayers, gate,
                stateFfn, feedback, xlCache, logitScale, relBuckets, relMaxDistance, normEps, drop, attnDrop);
    }

    public ModelConfig withVocab(int v) {
        return new ModelConfig(v, dModel, nLayers, nHeads, headDim, dFf, window, segment, nStates, recurrentLayers, gate,
                stateFfn, feedback, xlCache, logitScale, relBuckets, relMaxDistance, normEps, dropout, attnDropout);
    }

    @Override public boolean equals(Object o) {
        return o instanceof ModelConfig c && toJson().equals(c.toJson());
    }

    @Override public int hashCode() { return toJson().hashCode(); }

    // ---------------------------------------------------------------- JSON

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("vocab_size", "d_model", "n_layers", "n_heads", "head_dim", "d_ff",
            "window", "segment", "n_states", "recurrent_layers", "gate", "state_ffn", "feedback", "xl_cache", "logit_scale",
            "rel_buckets", "rel_max_distance", "norm_eps", "dropout", "attn_dropout");

    public static ModelConfig load(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException(file + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    /** Parses a config object; unknown fields are refused (a typo must not silently fall back to a default). */
    public static ModelConfig fromJson(JsonNode n) {
        if (n == null || !n.isObject()) throw bad("must be a JSON object");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) throw bad("unknown field '" + f + "'");
        }
        JsonNode rl = n.get("recurrent_layers");
        int[] layers = new int[0];
        if (rl != null && !rl.isNull()) {
            if (!rl.isArray()) throw bad("recurrent_layers must be a list of layer indices");
            layers = new int[rl.size()];
            for (int i = 0; i < rl.size(); i++) {
                if (!rl.get(i).isIntegralNumber()) throw bad("recurrent_layers must hold integers, got " + rl.get(i));
                layers[i] = rl.get(i).intValue();
            }
        }
        return new ModelConfig(intField(n, "vocab_size", null), intField(n, "d_model", null), intField(n, "n_layers", null),
                intField(n, "n_heads", null), intField(n, "head_dim", null), intField(n, "d_ff", null),
                intField(n, "window", null), intField(n, "segment", null), intField(n, "n_states", 512), layers,
                enumField(n, "gate", Gate.class, Gate.FIXED), enumField(n, "state_ffn", StateFfn.class, StateFfn.SKIP),
                boolField(n, "feedback", false), boolField(n, "xl_cache", true),
                enumField(n, "logit_scale", LogitScale.class, LogitScale.INV_SQRT_VOCAB),
                intField(n, "rel_buckets", 32), intField(n, "rel_max_distance", 128),
                doubleField(n, "norm_eps", 1e-6), doubleField(n, "dropout", 0.0), doubleField(n, "attn_dropout", 0.0));
    }

    private static int intField(JsonNode n, String f, Integer dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) {
            if (dflt == null) throw bad("missing field '" + f + "'");
            return dflt;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw bad("field '" + f + "' must be an integer, got " + v);
        return v.intValue();
    }

    private static double doubleField(JsonNode n, String f, double dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw bad("field '" + f + "' must be a number, got " + v);
        return v.doubleValue();
    }

    private static boolean boolField(JsonNode n, String f, boolean dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw bad("field '" + f + "' must be true or false, got " + v);
        return v.booleanValue();
    }

    private static <E extends Enum<E>> E enumField(JsonNode n, String f, Class<E> type, E dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return dflt;
        String s = v.asText().toUpperCase();
        for (E e : type.getEnumConstants()) if (e.name().equals(s)) return e;
        throw bad("field '" + f + "' must be one of " + Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase()).toList()
                + ", got " + v);
    }

    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("vocab_size", vocabSize).put("d_model", dModel).put("n_layers", nLayers).put("n_heads", nHeads)
                .put("head_dim", headDim).put("d_ff", dFf).put("window", window).put("segment", segment).put("n_states", nStates);
        var arr = o.putArray("recurrent_layers");
        for (int l : recurrentLayers) arr.add(l);
        o.put("gate", gate.name().toLowerCase()).put("state_ffn", stateFfn.name().toLowerCase()).put("feedback", feedback)
                .put("xl_cache", xlCache).put("logit_scale", logitScale.name().toLowerCase()).put("rel_buckets", relBuckets)
                .put("rel_max_distance", relMaxDistance).put("norm_eps", normEps).put("dropout", dropout).put("attn_dropout", attnDropout);
        return o;
    }

    public void save(Path file) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson()));
    }

    @Override public String toString() { return toJson().toString(); }

    // ---------------------------------------------------------------- presets

    /**
     * The paper's sizes (spec §2.1) and model names (spec §2.4, Table 1), with PG19-token settings: V = 32128,
     * N = 4096, W = 512, S = 512, dropout 0.05. XL:N means window = segment = N.
     */
    public static ModelConfig preset(String name) {
        ModelConfig c = PRESETS.get(name);
        if (c == null) throw new IllegalArgumentException("unknown preset '" + name + "'; known: " + String.join(", ", PRESETS.keySet()));
        return c;
    }

    public static Set<String> presetNames() { return PRESETS.keySet(); }

    private static ModelConfig size(int layers, int d, int heads, int headDim, int ff) {
        return new ModelConfig(32128, d, layers, heads, headDim, ff, 512, 4096, 512, new int[0], Gate.FIXED, StateFfn.SKIP,
                false, true, LogitScale.INV_SQRT_VOCAB, 32, 128, 1e-6, 0.05, 0.05);
    }

    private static ModelConfig rec(ModelConfig base, Gate g, StateFfn f, boolean feedback) {
        return new ModelConfig(base.vocabSize, base.dModel, base.nLayers, base.nHeads, base.headDim, base.dFf, base.window,
                base.segment, base.nStates, new int[]{-3}, g, f, feedback, true, base.logitScale, base.relBuckets,
                base.relMaxDistance, base.normEps, base.dropout, base.attnDropout);
    }

    private static ModelConfig layers(ModelConfig b, int n) {
        return new ModelConfig(b.vocabSize, b.dModel, n, b.nHeads, b.headDim, b.dFf, b.window, b.segment, b.nStates,
                b.recurrentLayers, b.gate, b.stateFfn, b.feedback, b.xlCache, b.logitScale, b.relBuckets, b.relMaxDistance,
                b.normEps, b.dropout, b.attnDropout);
    }

    private static final Map<String, ModelConfig> PRESETS = new LinkedHashMap<>();

    static {
        ModelConfig medium = size(12, 1024, 8, 128, 4096);
        PRESETS.put("small_37M", size(12, 512, 8, 64, 2048));
        PRESETS.put("small_75M", size(12, 512, 8, 128, 4096));
        PRESETS.put("medium_150M", medium);
        PRESETS.put("Slide:12L", medium);
        PRESETS.put("Slide:13L", layers(medium, 13));
        for (int w : List.of(512, 1024, 2048)) PRESETS.put("XL:" + w, medium.withWindowSegment(w, w));
        for (Gate g : Gate.values()) {
            for (StateFfn f : StateFfn.values()) {
                String name = g.name().toLowerCase() + ":" + f.name().toLowerCase();
                PRESETS.put("Rec:" + name, rec(medium, g, f, false));
                PRESETS.put("Feedback:" + name, rec(medium, g, f, true));
            }
        }
    }
}
