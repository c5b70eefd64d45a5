package dev.align4j.cli;

import dev.align4j.data.ChatTemplate;
import dev.align4j.data.Encoder;
import dev.align4j.model.Generation;
import dev.align4j.model.GenerationConfig;
import dev.align4j.model.Generator;
import dev.align4j.model.CausalLm;
import dev.align4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code align4j generate}: samples responses of a model to prompts ({@link Generator}). */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ConfigOptions.class,
        description = "Samples --n responses to each --prompt from --model and prints them (special tokens skipped).")
public final class GenerateCommand extends BaseCommand {
    @Option(names = "--model", paramLabel = "MODEL", required = true, description = "model directory or run folder")
    Path modelPath;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "prompt (repeatable; or --ids)")
    List<String> prompts;

    @Option(names = "--ids", paramLabel = "ID,ID,...", description = "a prompt as token ids, instead of --prompt (repeatable);"
            + " the responses are printed as ids and no tokenizer is used")
    List<String> idPrompts;

    @Option(names = "--eos-id", paramLabel = "ID", description = "with --ids: stop a response at this id (default: none)")
    Integer eosId;

    @Option(names = "--n", paramLabel = "K", description = "responses per prompt (default 1)")
    int n = 1;

    @Option(names = "--task", description = "format the prompt as the built-in tasks do: \"Q: <prompt>\\nA:\"")
    boolean task;

    @Option(names = "--chat", description = "format the prompt as a user message: with the model's chat template (tokenizer_config.json)"
            + " and the generation prompt, else the built-in chat template")
    boolean chat;

    @Option(names = "--tokenizer", paramLabel = "byte|gpt2", description = "default: inferred from the vocabulary")
    String tokenizer;

    /** The prompt text as the model is fed it. */
    String format(String p) {
        if (task && chat) throw CliException.usage("--task and --chat exclude each other");
        if (task) return "Q: " + p + "\nA:";
        if (chat) return ChatTemplate.DEFAULT.renderPrompt(List.of(new ChatTemplate.Turn(ChatTemplate.Role.USER, p)));
        return p;
    }

    /** Sampling at temperature 1, up to 64 new tokens (cut to fit the context); eos and pad come from the tokenizer. */
    public GenerateCommand() {
        super(new GenerationConfig(64, 1.0, 0, 1.0, -1, 0, 0));
    }

    @Override
    protected int run() throws Exception {
        if (n < 1) throw CliException.usage("--n must be >= 1, got " + n);
        GenerationConfig given = config((GenerationConfig) configDefaults());
        int maxNew = given.maxNewTokens();
        if ((prompts == null) == (idPrompts == null)) throw CliException.usage("give --prompt or --ids (not both)");
        if (idPrompts != null) return generateIds(given);
        if (eosId != null) throw CliException.usage("--eos-id goes with --ids (text prompts stop at the tokenizer's EOS)");
        try (CausalLm gpt = ModelPaths.loadGpt(modelPath, "--model", device())) {
            Tokenizer tok = ChatTokenizers.forModel(modelPath, "--model", tokenizer, gpt.config().vocabSize());
            Encoder enc = new Encoder(tok, gpt.config().nCtx());
            int[][] ids = new int[prompts.size() * n][];
            int longest = 0;
            for (int i = 0; i < prompts.size(); i++) {
                int[] templated = chat && !task ? ChatTokenizers.chatPrompt(tok, prompts.get(i), "--model") : null;
                int[] p = templated != null ? templated : enc.encodePrompt(format(prompts.get(i)));
                if (p.length >= gpt.config().nCtx())
                    throw CliException.usage("--prompt " + (i + 1) + " has " + p.length + " tokens: no room in the context of "
                            + gpt.config().nCtx());
                longest = Math.max(longest, p.length);
                for (int k = 0; k < n; k++) ids[i * n + k] = p;
            }
            int room = Math.min(maxNew, gpt.config().nCtx() - longest);
            if (room < maxNew) info("--max-new cut to %d to fit the context of %d", room, gpt.config().nCtx());
            GenerationConfig gc = new GenerationConfig(room, given.temperature(), given.topK(), given.topP(), tok.eosId(), tok.padId(),
                    given.seed());
            int[] stops = tok.stopIds();
            Generation g = Generator.generate(gpt, ids, gc, stops);
            for (int i = 0; i < ids.length; i++) {
                int[] r = g.response(i);
                boolean eos = r.length > 0 && java.util.Arrays.stream(stops).anyMatch(s -> s == r[r.length - 1]);
                String text = tok.decode(eos ? Arrays.copyOf(r, r.length - 1) : r, true);
                print(i, ids.length, text);
            }
        }
        return 0;
    }

    private void print(int i, int rows, String text) {
        if (rows == 1) result("%s", text);
        else result("[%d.%d] %s", i / n + 1, i % n + 1, text);
    }

    /** --ids: prompts and responses as comma-separated token ids, no tokenizer. */
    private int generateIds(GenerationConfig given) throws Exception {
        if (task || chat || tokenizer != null) throw CliException.usage("--ids takes no --task, --chat or --tokenizer");
        try (CausalLm gpt = ModelPaths.loadGpt(modelPath, "--model", device())) {
            int v = gpt.config().vocabSize(), ctx = gpt.config().nCtx();
            int[][] ids = new int[idPrompts.size() * n][];
            int longest = 0;
            for (int i = 0; i < idPrompts.size(); i++) {
                int[] p = parseIds("--ids " + (i + 1), idPrompts.get(i));
                ScoreCommand.checkIds("--ids " + (i + 1), p, v);
                if (p.length >= ctx)
                    throw CliException.usage("--ids " + (i + 1) + " has " + p.length + " tokens: no room in the context of " + ctx);
                longest = Math.max(longest, p.length);
                for (int k = 0; k < n; k++) ids[i * n + k] = p;
            }
            if (eosId != null) ScoreCommand.checkIds("--eos-id", new int[] {eosId}, v);
            int room = Math.min(given.maxNewTokens(), ctx - longest);
            if (room < given.maxNewTokens()) info("--max-new cut to %d to fit the context of %d", room, ctx);
            GenerationConfig gc = new GenerationConfig(room, given.temperature(), given.topK(), given.topP(),
                    eosId == null ? -1 : eosId, 0, given.seed());
            Generation g = Generator.generate(gpt, ids, gc);
            for (int i = 0; i < ids.length; i++) {
                StringBuilder sb = new StringBuilder();
                for (int id : g.response(i)) sb.append(sb.length() == 0 ? "" : ",").append(id);
                print(i, ids.length, sb.toString());
            }
        }
        return 0;
    }

    /** "1,461,401" to ids; a malformed list is a usage error naming the flag. */
    static int[] parseIds(String flag, String list) {
        String[] parts = list.split(",", -1);
        int[] r = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                r[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw CliException.usage(flag + ": '" + parts[i] + "' (position " + (i + 1) + ") is not a token id");
            }
        }
        return r;
    }
}
