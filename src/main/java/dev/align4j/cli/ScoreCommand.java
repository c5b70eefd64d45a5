package dev.align4j.cli;

import dev.align4j.data.Encoder;
import dev.align4j.model.CausalLm;
import dev.align4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code align4j score}: the log-probability of a text (after a prompt) under a model, token by token, from the
 * model's own forward ({@link CausalLm#forward} with targets, whose per-token log-probs are the {@code LogProbs} kernel's).
 */
@Command(name = "score", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Per-token log-probs of a text under a model.",
                "Prints token | id | log p for each token of --text (given --prompt), then the",
                "sum, the mean and the perplexity exp(-mean). With --ids (and --prompt-ids) the",
                "tokens are given as ids and no tokenizer is used: for models without one, and",
                "for exact comparisons with other implementations."})
public final class ScoreCommand extends BaseCommand {
    @Option(names = "--model", paramLabel = "MODEL", required = true, description = "model directory or run folder")
    Path modelPath;

    @Option(names = "--text", paramLabel = "TEXT", description = "the text scored (or --ids)")
    String text;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "the context before it, not scored (default: none, BOS)")
    String prompt = "";

    @Option(names = "--ids", paramLabel = "ID,ID,...", split = ",", description = "the token ids scored, instead of --text")
    int[] ids;

    @Option(names = "--prompt-ids", paramLabel = "ID,ID,...", split = ",",
            description = "with --ids: the context's token ids, not scored (at least one, e.g. the BOS id)")
    int[] promptIds;

    @Option(names = "--eos", description = "also score an EOS after the text")
    boolean eos;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    @Option(names = "--chat", description = "render --prompt as a user message with the model's chat template and the generation"
            + " prompt (the text is then scored as the assistant's reply)")
    boolean chat;

    /** Per-token log-probs of the scored tokens. */
    record Scores(int[] ids, float[] logp) {
        double sum() {
            double s = 0;
            for (float v : logp) s += v;
            return s;
        }
    }

    /** The sequence prompt + text (+ EOS): one forward, log-probs read at the text's positions. */
    static Scores score(CausalLm gpt, Tokenizer tok, String prompt, String text, boolean eos) {
        return score(gpt, tok, new Encoder(tok, Math.max(4, gpt.config().nCtx())).encodePrompt(prompt), text, eos);
    }

    /** The same after the prompt ids {@code p} (e.g. a chat template's rendering). */
    static Scores score(CausalLm gpt, Tokenizer tok, int[] p, String text, boolean eos) {
        int[] x = tok.encode(text);
        if (x.length == 0 && !eos) throw CliException.usage("--text is empty");
        return score(gpt, p, eos ? append(x, tok.eosId()) : x);
    }

    private static int[] append(int[] x, int id) {
        int[] r = java.util.Arrays.copyOf(x, x.length + 1);
        r[x.length] = id;
        return r;
    }

    /** The log-probs of the tokens {@code x} after the context {@code p} (at least one token). */
    static Scores score(CausalLm gpt, int[] p, int[] x) {
        int n = p.length + x.length;
        if (p.length < 1) throw CliException.usage("the context is empty: give --prompt-ids (e.g. the BOS id)");
        if (x.length < 1) throw CliException.usage("nothing to score");
        if (n - 1 > gpt.config().nCtx())
            throw CliException.usage("prompt + text are " + n + " tokens: longer than the context " + gpt.config().nCtx() + " + 1");
        int[] all = new int[n];
        System.arraycopy(p, 0, all, 0, p.length);
        System.arraycopy(x, 0, all, p.length, x.length);
        int t = n - 1;
        int[] inputs = new int[t], targets = new int[t];
        float[] mask = new float[t];
        for (int j = 0; j < t; j++) {
            inputs[j] = all[j];
            targets[j] = all[j + 1];
            mask[j] = j + 1 >= p.length ? 1f : 0f;
        }
        gpt.forward(inputs, targets, mask, 1, t);
        float[] lp = gpt.logProbs().toFloatArray();
        int k = n - p.length;
        int[] ids = new int[k];
        float[] out = new float[k];
        for (int j = 0; j < k; j++) {
            ids[j] = all[p.length + j];
            out[j] = lp[p.length - 1 + j];
        }
        return new Scores(ids, out);
    }

    @Override
    protected int run() throws Exception {
        if ((text == null) == (ids == null)) throw CliException.usage("give exactly one of --text and --ids");
        if (ids != null) {
            if (eos || chat || tokenizer != null || !prompt.isEmpty())
                throw CliException.usage("--ids takes --prompt-ids, not --prompt, --chat, --eos or --tokenizer (no tokenizer is used)");
            try (CausalLm gpt = ModelPaths.loadGpt(modelPath, "--model", device())) {
                int v = gpt.config().vocabSize();
                checkIds("--prompt-ids", promptIds == null ? new int[0] : promptIds, v);
                checkIds("--ids", ids, v);
                Scores s = score(gpt, promptIds == null ? new int[0] : promptIds, ids);
                result("%7s %10s", "id", "log p");
                for (int j = 0; j < s.ids().length; j++) result("%7d %10.6f", s.ids()[j], s.logp()[j]);
                summary(s);
            }
            return 0;
        }
        if (promptIds != null) throw CliException.usage("--prompt-ids goes with --ids");
        try (CausalLm gpt = ModelPaths.loadGpt(modelPath, "--model", device())) {
            Tokenizer tok = ChatTokenizers.forModel(modelPath, "--model", tokenizer, gpt.config().vocabSize());
            Scores s;
            if (chat) {
                int[] p = ChatTokenizers.chatPrompt(tok, prompt, "--model");
                if (p == null) throw CliException.usage("--chat: " + modelPath + " has no chat template (tokenizer.json with tokenizer_config.json's chat_template)");
                s = score(gpt, tok, p, text, eos);
            } else {
                s = score(gpt, tok, prompt, text, eos);
            }
            result("%-16s %7s %10s", "token", "id", "log p");
            for (int j = 0; j < s.ids().length; j++)
                result("%-16s %7d %10.4f", quote(tok.tokenText(s.ids()[j])), s.ids()[j], s.logp()[j]);
            summary(s);
        }
        return 0;
    }

    private void summary(Scores s) {
        double sum = s.sum(), mean = sum / s.ids().length;
        result("sum %.6f  mean %.6f  tokens %d  perplexity %.4f", sum, mean, s.ids().length, Math.exp(-mean));
    }

    /** Every id in [0, vocab), or a usage error naming the flag and the position. */
    static void checkIds(String flag, int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw CliException.usage(flag + ": id " + ids[i] + " (position " + (i + 1) + ") is outside the model's vocabulary [0, "
                        + vocab + ")");
    }

    /** A token's text with whitespace and control characters visible. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                case '"' -> sb.append("\\\"");
                default -> {
                    if (c < 0x20) sb.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }
}
