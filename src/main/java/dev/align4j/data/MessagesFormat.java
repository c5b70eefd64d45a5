package dev.align4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Chat JSONL (or a JSON array): {@code {"messages": [{"role": "system|user|assistant", "content": "..."}, ...]}},
 * rendered with a {@link ChatTemplate}; the loss is on every assistant turn (its content and the EOS after it),
 * never on role markers, system or user text ({@link ChatTemplate.Training#ALL_ASSISTANT}).
 *
 * <p>Bad records: {@code messages} missing, not an array or empty; a message that is not an object; a missing or
 * non-string {@code role} or {@code content}; an unknown role (anything but system, user, assistant, matched
 * case-insensitively — e.g. a {@code tool} turn); a blank {@code content}; a system message anywhere but first;
 * no assistant turn; a last turn that is not an assistant turn (trailing user text would be untrained tokens after the last target, so it
 * is treated as a malformed record rather than silently cut). Consecutive turns of one role are allowed.
 */
public final class MessagesFormat {
    private MessagesFormat() {
    }

    public static ReadResult<SftExample> read(Path file, ReadOptions options, ChatTemplate template) throws IOException {
        if (template == null) throw new IllegalArgumentException("template must not be null");
        return RecordReader.readObjects(file, "messages", options, (o, ctx) ->
                template.render(turns(Fields.array(o, "messages")), ChatTemplate.Training.ALL_ASSISTANT, ctx.origin()));
    }

    public static ReadResult<SftExample> read(Path file, ReadOptions options) throws IOException {
        return read(file, options, ChatTemplate.DEFAULT);
    }

    static List<ChatTemplate.Turn> turns(JsonNode messages) throws BadRecord {
        if (messages.isEmpty()) throw new BadRecord("no messages");
        List<ChatTemplate.Turn> turns = new ArrayList<>();
        boolean anyAssistant = false;
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String where = "message " + (i + 1);
            if (!m.isObject()) throw new BadRecord("message is not a JSON object", where + " is " + Fields.kind(m));
            String roleText, content;
            try {
                roleText = Fields.string(m, "role");
                content = Fields.string(m, "content");
            } catch (BadRecord b) {
                throw new BadRecord(b.key, where + (b.detail == null ? "" : ", " + b.detail));
            }
            ChatTemplate.Role role = ChatTemplate.Role.parse(roleText);
            if (role == null) throw new BadRecord("unknown role", "'" + roleText + "' in " + where);
            if (content.isBlank()) throw new BadRecord("empty content", where + " (" + roleText + ")");
            if (role == ChatTemplate.Role.SYSTEM && i > 0) throw new BadRecord("system message not first", where);
            anyAssistant |= role == ChatTemplate.Role.ASSISTANT;
            turns.add(new ChatTemplate.Turn(role, content));
        }
        if (!anyAssistant) throw new BadRecord("no assistant turn");
        if (turns.get(turns.size() - 1).role() != ChatTemplate.Role.ASSISTANT)
            throw new BadRecord("last turn is not assistant");
        return turns;
    }
}
