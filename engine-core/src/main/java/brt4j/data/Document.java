package brt4j.data;

/** One document of a corpus: where it came from (a file, a line of a JSON Lines file, a zip entry) and its UTF-8 text. */
public record Document(String name, byte[] utf8) {}
