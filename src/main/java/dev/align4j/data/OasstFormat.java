package dev.align4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * OpenAssistant (OASST1/OASST2) conversation trees, the official tree export: one tree per line,
 * {@code {"message_tree_id", "tree_state", "prompt": message}}, each message
 * {@code {"message_id", "role": "prompter"|"assistant", "text", "lang", "rank", "deleted", "review_result",
 * "replies": [message, …], …}}. Other fields (labels, emojis, detoxify, …) are ignored; {@code tree_state} is
 * not filtered on.
 *
 * <p><b>Filtering</b> (each message, top-down; a dropped message takes its whole subtree with it):
 * {@code deleted: true}, {@code review_result: false} ({@code null} = not yet reviewed, kept), a {@code lang}
 * outside {@link ReadOptions#language()} (a message without {@code lang} fails any filter), and blank
 * {@code text}. Each is counted in the report's counters —
 * {@code "oasst: dropped message: deleted"}, {@code "…: review failed"}, {@code "…: language"},
 * {@code "…: empty text"} — and the messages removed beneath them as {@link #REMOVED_WITH_PARENT}.
 *
 * <p><b>SFT threads</b> ({@link #readSft}): one example per surviving assistant message: the path from the root
 * to it, prompter = user, rendered with the {@link ChatTemplate}, trained on the LAST assistant turn only
 * ({@link ChatTemplate.Training#LAST_ASSISTANT}). Every assistant reply is thus trained exactly once (as the end of
 * its own path) instead of once per descendant path; earlier assistant turns are untrained history.
 *
 * <p><b>Preference pairs</b> ({@link #readPairs}): at each surviving prompter message, among its surviving
 * assistant replies with a non-null {@code rank} (lower is better), the best one against each sibling ranked
 * strictly worse; the prompt is {@link ChatTemplate#renderPrompt} of the thread up to that prompter message
 * (ending with the assistant marker), the responses are the two texts. Ranks keep their order after filtering
 * (gaps are fine); unranked siblings take no part.
 *
 * <p>Bad records (the whole tree): not a JSON object, no {@code prompt} object, a message without string
 * {@code role}/{@code text}, an unknown role, a root that is not a prompter, roles that do not alternate, a
 * non-boolean {@code deleted}/{@code review_result}, a non-integer {@code rank}, {@code replies} not an array.
 */
public final class OasstFormat {
    public static final String DROPPED = "oasst: dropped message: ";
    public static final String REMOVED_WITH_PARENT = "oasst: messages removed with a dropped ancestor";

    private OasstFormat() {
    }

    public static ReadResult<SftExample> readSft(Path file, ReadOptions options, ChatTemplate template) throws IOException {
        return readTrees(file, options, template, (ctx, out) -> new Walk(ctx, template, out, null));
    }

    public static ReadResult<SftExample> readSft(Path file, ReadOptions options) throws IOException {
        return readSft(file, options, ChatTemplate.DEFAULT);
    }

    public static ReadResult<PreferencePair> readPairs(Path file, ReadOptions options, ChatTemplate template) throws IOException {
        return readTrees(file, options, template, (ctx, out) -> new Walk(ctx, template, null, out));
    }

    public static ReadResult<PreferencePair> readPairs(Path file, ReadOptions options) throws IOException {
        return readPairs(file, options, ChatTemplate.DEFAULT);
    }

    /** A tree walk that emits into {@code out}. */
    private interface WalkInto<T> {
        Walk walk(RecordReader.Context ctx, List<T> out);
    }

    private static <T> ReadResult<T> readTrees(Path file, ReadOptions options, ChatTemplate template, WalkInto<T> walk)
            throws IOException {
        if (template == null) throw new IllegalArgumentException("template must not be null");
        return RecordReader.read(file, "oasst", options, true, (node, ctx, out) -> walk.walk(ctx, out).start(tree(node)));
    }

    record Msg(String id, boolean assistant, String text, String lang, Long rank, boolean deleted,
               Boolean reviewResult, List<Msg> replies) {
        int size() {
            int n = 1;
            for (Msg r : replies) n += r.size();
            return n;
        }
    }

    private static Msg tree(JsonNode node) throws BadRecord {
        Fields.requireObject(node, "record");
        JsonNode prompt = node.get("prompt");
        if (prompt == null) throw new BadRecord("missing field 'prompt'");
        Msg root = message(prompt, "prompt");
        if (root.assistant) throw new BadRecord("root is not a prompter message");
        return root;
    }

    private static Msg message(JsonNode m, String where) throws BadRecord {
        if (!m.isObject()) throw new BadRecord("message is not a JSON object", where + " is " + Fields.kind(m));
        String id, role, text, lang;
        Long rank;
        Boolean deleted, review;
        JsonNode rs = m.get("replies");
        try {
            id = Fields.optionalString(m, "message_id");
            role = Fields.string(m, "role");
            if (!role.equals("assistant") && !role.equals("prompter")) throw new BadRecord("unknown role", "'" + role + "'");
            text = Fields.string(m, "text");
            lang = Fields.optionalString(m, "lang");
            rank = Fields.optionalInteger(m, "rank");
            deleted = Fields.optionalBoolean(m, "deleted");
            review = Fields.optionalBoolean(m, "review_result");
            if (rs != null && !rs.isNull() && !rs.isArray())
                throw new BadRecord("field 'replies' is not an array", "got " + Fields.kind(rs));
        } catch (BadRecord b) { // say which message
            String at = m.hasNonNull("message_id") ? "message " + m.get("message_id").asText() : where;
            throw new BadRecord(b.key, (b.detail == null ? "" : b.detail + " ") + "in " + at);
        }
        boolean assistant = role.equals("assistant");
        List<Msg> replies = new ArrayList<>();
        if (rs != null && !rs.isNull()) {
            String childWhere = id == null ? "a reply" : "a reply to " + id;
            for (JsonNode r : rs) {
                Msg c = message(r, childWhere);
                if (c.assistant == assistant)
                    throw new BadRecord("roles do not alternate", role + " " + (id == null ? "" : id + " ")
                            + "has a " + role + " reply" + (c.id.isEmpty() ? "" : " " + c.id));
                replies.add(c);
            }
        }
        return new Msg(id == null ? "" : id, assistant, text, lang, rank, deleted != null && deleted, review, replies);
    }

    /** Traverses one tree, emitting SFT threads and/or pairs and counting drops. */
    private static final class Walk {
        final RecordReader.Context ctx;
        final ChatTemplate template;
        final List<SftExample> sft;
        final List<PreferencePair> pairs;

        Walk(RecordReader.Context ctx, ChatTemplate template, List<SftExample> sft, List<PreferencePair> pairs) {
            this.ctx = ctx;
            this.template = template;
            this.sft = sft;
            this.pairs = pairs;
        }

        void start(Msg root) {
            if (survives(root)) visit(root, new ArrayList<>());
        }

        /** Counts and returns false when {@code m} (and so its subtree) is dropped. */
        boolean survives(Msg m) {
            String reason = null;
            if (m.deleted) reason = "deleted";
            else if (Boolean.FALSE.equals(m.reviewResult)) reason = "review failed";
            else if (!ctx.options.acceptsLanguage(m.lang)) reason = "language";
            else if (m.text.isBlank()) reason = "empty text";
            if (reason == null) return true;
            ctx.count(DROPPED + reason, 1);
            ctx.count(REMOVED_WITH_PARENT, m.size() - 1);
            return false;
        }

        void visit(Msg m, List<ChatTemplate.Turn> path) {
            path.add(new ChatTemplate.Turn(m.assistant ? ChatTemplate.Role.ASSISTANT : ChatTemplate.Role.USER, m.text));
            String origin = ctx.origin() + "/" + m.id;
            if (m.assistant && sft != null) sft.add(template.render(path, ChatTemplate.Training.LAST_ASSISTANT, origin));
            List<Msg> alive = new ArrayList<>();
            for (Msg c : m.replies) if (survives(c)) alive.add(c);
            if (!m.assistant && pairs != null) pairs(alive, path, origin);
            for (Msg c : alive) visit(c, path);
            path.remove(path.size() - 1);
        }

        void pairs(List<Msg> replies, List<ChatTemplate.Turn> path, String origin) {
            List<Msg> ranked = new ArrayList<>();
            for (Msg r : replies) if (r.assistant && r.rank != null) ranked.add(r);
            if (ranked.size() < 2) return;
            ranked.sort(Comparator.comparingLong(Msg::rank)); // stable: ties keep file order
            Msg best = ranked.get(0);
            String prompt = template.renderPrompt(path);
            for (Msg worse : ranked.subList(1, ranked.size())) {
                if (worse.rank <= best.rank) continue; // a tie with the best is no preference
                if (worse.text.equals(best.text)) {
                    ctx.count("oasst: ranked siblings with identical text (no pair)", 1);
                    continue;
                }
                pairs.add(new PreferencePair(prompt, best.text, worse.text, origin + " " + best.id + ">" + worse.id));
            }
        }
    }
}
