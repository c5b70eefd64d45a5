package dev.align4j.cli;

import dev.align4j.tokenizer.ChatFormatter;
import dev.align4j.tokenizer.HfTokenizer;
import dev.align4j.tokenizer.Tokenizer;
import dev.align4j.tokenizer.jinja.TemplateException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The commands' hook to Hugging Face tokenizers and chat templates: a model folder (or run folder) that holds a
 * {@code tokenizer.json} uses it (unless {@code --tokenizer} names another), padded to the model's vocabulary; its
 * {@code chat_template} formats chat data ({@code sft}) and {@code --chat} prompts ({@code generate}, {@code score}).
 */
final class ChatTokenizers {
    /** The tokenizer files copied next to a trained model so that it can be used (and resumed) with them. */
    static final List<String> FILES = List.of(HfTokenizer.TOKENIZER_FILE, HfTokenizer.CONFIG_FILE, HfTokenizer.CHAT_TEMPLATE_FILE,
            HfTokenizer.GENERATION_CONFIG_FILE, "special_tokens_map.json");

    private ChatTokenizers() {}

    /** The folder with {@code tokenizer.json} for {@code path} (itself, or the model directory it names), or null. */
    static Path tokenizerDir(Path path, String option) throws IOException {
        if (path == null) return null;
        if (HfTokenizer.isTokenizerDir(path)) return path;
        if (!Files.exists(path)) return null;
        Path dir = ModelPaths.modelDir(path, option);
        return HfTokenizer.isTokenizerDir(dir) ? dir : null;
    }

    /**
     * The tokenizer of the model {@code path} names: its Hugging Face tokenizer when it has one and {@code flag} is
     * null, else {@link ModelPaths#tokenizer(String, int)}.
     */
    static Tokenizer forModel(Path path, String option, String flag, int vocab) throws IOException {
        Path dir = flag == null ? tokenizerDir(path, option) : null;
        if (dir == null) return ModelPaths.tokenizer(flag, vocab);
        if (!HfTokenizer.available())
            throw CliException.usage(option + ": " + dir + " has a tokenizer.json, but DJL's tokenizers library is not on the class path");
        try {
            return HfTokenizer.load(dir).withVocabSize(vocab);
        } catch (IllegalArgumentException e) {
            throw CliException.usage(option + ": " + e.getMessage());
        }
    }

    /** The chat formatter of {@code tok} when it is a Hugging Face tokenizer with a chat template, else null. */
    static ChatFormatter formatter(Tokenizer tok, String option) {
        if (!(tok instanceof HfTokenizer hf) || hf.chatTemplate() == null) return null;
        try {
            return ChatFormatter.of(hf);
        } catch (TemplateException e) {
            throw CliException.usage(option + ": " + hf.dir() + ": " + e.getMessage());
        }
    }

    /** The prompt ids of {@code text}: with {@code chat}, rendered as a user message with the generation prompt. */
    static int[] chatPrompt(Tokenizer tok, String text, String option) {
        ChatFormatter f = formatter(tok, option);
        if (f == null) return null;
        try {
            return f.encodeUserPrompt(text);
        } catch (TemplateException e) {
            throw CliException.usage(option + ": " + e.getMessage());
        }
    }

    /** Copies the tokenizer files of {@code tok} (when it is a Hugging Face tokenizer) into {@code dir}. */
    static void copyFiles(Tokenizer tok, Path dir) throws IOException {
        if (!(tok instanceof HfTokenizer hf)) return;
        Files.createDirectories(dir);
        for (String f : FILES) {
            Path src = hf.dir().resolve(f);
            if (Files.isRegularFile(src) && !src.toAbsolutePath().normalize().equals(dir.resolve(f).toAbsolutePath().normalize()))
                Files.copy(src, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
