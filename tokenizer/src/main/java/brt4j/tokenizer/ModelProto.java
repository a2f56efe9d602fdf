package brt4j.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * The contents of a SentencePiece {@code .model} file (the ModelProto message), read and written by our own wire
 * format code. Only the structure is checked here; {@link Vocabulary} checks that the pieces make sense together.
 */
public final class ModelProto {
    public final List<Piece> pieces;
    public final TrainerSpec trainerSpec;
    public final NormalizerSpec normalizerSpec;
    /** Present in a model only when it was trained with a denormalization rule; decoding here does not apply it. */
    public final NormalizerSpec denormalizerSpec;

    public ModelProto(List<Piece> pieces, TrainerSpec trainerSpec, NormalizerSpec normalizerSpec,
                      NormalizerSpec denormalizerSpec) {
        this.pieces = List.copyOf(pieces);
        this.trainerSpec = trainerSpec;
        this.normalizerSpec = normalizerSpec;
        this.denormalizerSpec = denormalizerSpec;
    }

    /** Parses a ModelProto; {@code source} names the file in error messages. */
    public static ModelProto parse(byte[] bytes, String source) {
        ProtoReader in = new ProtoReader(bytes, source);
        List<Piece> pieces = new ArrayList<>();
        TrainerSpec trainer = null;
        NormalizerSpec normalizer = null, denormalizer = null;
        while (in.hasMore()) {
            int tag = in.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    in.expectWireType(tag, ProtoReader.LENGTH_DELIMITED, "pieces");
                    pieces.add(readPiece(in.readMessage("piece " + pieces.size()), pieces.size(), source));
                }
                case 2 -> {
                    in.expectWireType(tag, ProtoReader.LENGTH_DELIMITED, "trainer_spec");
                    trainer = TrainerSpec.read(in.readMessage("trainer_spec"));
                }
                case 3 -> {
                    in.expectWireType(tag, ProtoReader.LENGTH_DELIMITED, "normalizer_spec");
                    normalizer = NormalizerSpec.read(in.readMessage("normalizer_spec"));
                }
                case 5 -> {
                    in.expectWireType(tag, ProtoReader.LENGTH_DELIMITED, "denormalizer_spec");
                    denormalizer = NormalizerSpec.read(in.readMessage("denormalizer_spec"));
                }
                default -> in.skipField(tag);
            }
        }
        if (pieces.isEmpty()) {
            throw new ModelFormatException(source + " is not a SentencePiece model: it has no pieces.");
        }
        if (trainer == null) {
            trainer = new TrainerSpec();
            trainer.presentInFile = false;
        }
        return new ModelProto(pieces, trainer,
                normalizer != null ? normalizer : new NormalizerSpec(), denormalizer);
    }

    private static Piece readPiece(ProtoReader in, int id, String source) {
        String text = "";
        float score = 0;
        PieceType type = PieceType.NORMAL;
        while (in.hasMore()) {
            int tag = in.readTag();
            switch (tag >>> 3) {
                case 1 -> text = NormalizerSpec.string(in, tag, "piece");
                case 2 -> {
                    in.expectWireType(tag, ProtoReader.FIXED32, "score");
                    score = in.readFloat();
                }
                case 3 -> {
                    in.expectWireType(tag, ProtoReader.VARINT, "type");
                    int number = in.readInt32();
                    type = PieceType.fromProto(number);
                    if (type == null) {
                        throw new ModelFormatException(source + ": piece " + id + " has an unknown type " + number + ".");
                    }
                }
                default -> in.skipField(tag);
            }
        }
        return new Piece(text, score, type);
    }

    /** The wire-format bytes of this model, which SentencePiece itself loads. */
    public byte[] toByteArray() {
        ProtoWriter out = new ProtoWriter();
        for (Piece p : pieces) {
            ProtoWriter piece = new ProtoWriter();
            piece.writeString(1, p.text());
            piece.writeFloat(2, p.score());
            if (p.type() != PieceType.NORMAL) piece.writeVarint(3, p.type().protoNumber);
            out.writeMessage(1, piece);
        }
        out.writeMessage(2, trainerSpec.write());
        out.writeMessage(3, normalizerSpec.write());
        if (denormalizerSpec != null) out.writeMessage(5, denormalizerSpec.write());
        return out.toByteArray();
    }
}
