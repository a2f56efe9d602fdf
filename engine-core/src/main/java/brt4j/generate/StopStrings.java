package brt4j.generate;

import java.util.List;

/**
 * Watches the decoded text for stop strings. Holds back the text that could still become a stop string, so what
 * it releases never contains (a prefix of) one that later completes.
 */
public final class StopStrings {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    public StopStrings(List<String> stops) {
        for (String s : stops) if (s.isEmpty()) throw new IllegalArgumentException("a stop string may not be empty");
        this.stops = List.copyOf(stops);
    }

    public boolean stopped() { return stopped; }

    /** Adds decoded text; returns the part that is now safe to show (empty once stopped). */
    public String accept(String text) {
        if (stopped) return "";
        pending.append(text);
        for (String s : stops) {
            int at = pending.indexOf(s);
            if (at >= 0) {
                stopped = true;
                String out = pending.substring(0, at);
                pending.setLength(0);
                return out;
            }
        }
        int hold = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, pending.length()); k > hold; k--) {
                if (pending.substring(pending.length() - k).equals(s.substring(0, k))) { hold = k; break; }
            }
        }
        String out = pending.substring(0, pending.length() - hold);
        pending.delete(0, pending.length() - hold);
        return out;
    }

    /** What is left when generation ends without a stop. */
    public String flush() {
        String out = stopped ? "" : pending.toString();
        pending.setLength(0);
        return out;
    }
}
