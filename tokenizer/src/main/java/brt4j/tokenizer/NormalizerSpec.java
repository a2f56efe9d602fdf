package brt4j.tokenizer;

/**
 * ModelProto.NormalizerSpec: how input text is normalized before segmentation. Fields start at their proto2
 * defaults; a field absent from a model file keeps its default.
 */
public final class NormalizerSpec {
    public String name = "";
    /** A Darts double-array trie of rewrite rules followed by the NUL-separated replacement strings. */
    public byte[] precompiledCharsmap = new byte[0];
    public boolean addDummyPrefix = true;
    public boolean removeExtraWhitespaces = true;
    public boolean escapeWhitespaces = true;
    public String normalizationRuleTsv = "";

    static NormalizerSpec read(ProtoReader in) {
        NormalizerSpec spec = new NormalizerSpec();
        while (in.hasMore()) {
            int tag = in.readTag();
            switch (tag >>> 3) {
                case 1 -> spec.name = string(in, tag, "name");
                case 2 -> {
                    in.expectWireType(tag, ProtoReader.LENGTH_DELIMITED, "precompiled_charsmap");
                    spec.precompiledCharsmap = in.readBytes();
                }
                case 3 -> spec.addDummyPrefix = bool(in, tag, "add_dummy_prefix");
                case 4 -> spec.removeExtraWhitespaces = bool(in, tag, "remove_extra_whitespaces");
                case 5 -> spec.escapeWhitespaces = bool(in, tag, "escape_whitespaces");
                case 6 -> spec.normalizationRuleTsv = string(in, tag, "normalization_rule_tsv");
                default -> in.skipField(tag);
            }
        }
        return spec;
    }

    ProtoWriter write() {
        ProtoWriter out = new ProtoWriter();
        out.writeString(1, name);
        if (precompiledCharsmap.length > 0) out.writeBytes(2, precompiledCharsmap);
        out.writeBool(3, addDummyPrefix);
        out.writeBool(4, removeExtraWhitespaces);
        out.writeBool(5, escapeWhitespaces);
        if (!normalizationRuleTsv.isEmpty()) out.writeString(6, normalizationRuleTsv);
        return out;
    }

    static String string(ProtoReader in, int tag, String field) {
        in.expectWireType(tag, ProtoReader.LENGTH_DELIMITED, field);
        return in.readString();
    }

    static boolean bool(ProtoReader in, int tag, String field) {
        in.expectWireType(tag, ProtoReader.VARINT, field);
        return in.readBool();
    }
}
