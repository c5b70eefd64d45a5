package dev.align4j.model;

/**
 * The result of {@link Generator#generate}: B rows of {@code width = P + maxNewTokens} (P: the longest prompt),
 * row-major. <b>Layout: right padding.</b> Row b holds prompt b (its {@code promptLengths[b]} tokens from column
 * 0), then its {@code responseLengths[b]} generated tokens (the EOS included when sampled), then {@code padId}.
 * Positions therefore start at 0 in every row, so a plain {@link CausalLm#forward} on these rows (inputs
 * {@code tokens[:, :−1]}, targets {@code tokens[:, 1:]}) sees exactly what the generator saw for every real token:
 * padding only follows real tokens, and causal attention never reads it.
 *
 * <ul>
 *   <li>{@code responseMask}: 1 on the generated tokens (EOS included), 0 on prompts, after EOS and padding;</li>
 *   <li>{@code logProbs}: at a generated token, {@code log softmax(logits)[token]} of the model at temperature 1,
 *       i.e. the untempered policy log-prob PPO stores (= a fresh forward's {@code LogProbs} of that token);
 *       0 where the mask is 0;</li>
 *   <li>{@code sampleLogProbs}: the log-prob under the distribution actually sampled from (temperature, top-k,
 *       top-p; 0 for greedy); 0 where the mask is 0.</li>
 * </ul>
 */
public record Generation(int batch, int width, int[] tokens, float[] responseMask, float[] logProbs,
                         float[] sampleLogProbs, int[] promptLengths, int[] responseLengths) {

    /** Row b's real tokens (prompt then response), without padding. */
    public int[] sequence(int b) {
        int n = promptLengths[b] + responseLengths[b];
        int[] out = new int[n];
        System.arraycopy(tokens, b * width, out, 0, n);
        return out;
    }

    /** Row b's generated tokens. */
    public int[] response(int b) {
        int[] out = new int[responseLengths[b]];
        System.arraycopy(tokens, b * width + promptLengths[b], out, 0, out.length);
        return out;
    }
}
