package dev.align4j.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a Hugging Face model folder, as transformers finds them: {@code model.safetensors} when it exists,
 * else the shards that {@code model.safetensors.index.json} lists ({@code "weight_map": {tensor: shard file}}, as
 * written by {@code save_pretrained} for models over its shard size). Tensors are looked up by name across the
 * shards; F32, F16 and BF16 read as floats ({@link SafeTensorsFile}).
 *
 * <p>The index is untrusted input (it arrives inside a downloaded folder), so it is checked before any tensor is
 * read, each error naming the file and the tensor: malformed JSON (with line and column), a missing
 * {@code weight_map}, a shard name that is not a plain file name in the folder (no {@code ../}, no absolute path),
 * a shard file that does not exist or is not valid safetensors, a tensor the index puts in a shard that does not
 * hold it, a shard holding a tensor the index does not list, and a tensor held by two shards.
 */
public final class SafeTensorsCheckpoint implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    private final List<SafeTensorsFile> files;
    private final Map<String, SafeTensorsFile> byTensor;

    private SafeTensorsCheckpoint(Path dir, List<SafeTensorsFile> files, Map<String, SafeTensorsFile> byTensor) {
        this.dir = dir;
        this.files = files;
        this.byTensor = byTensor;
    }

    /** Opens the weights of folder {@code dir}; fails naming what is wrong (see the class comment). */
    public static SafeTensorsCheckpoint open(Path dir) throws IOException {
        Path single = dir.resolve(SINGLE_FILE);
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(single)) {
            SafeTensorsFile f = SafeTensorsFile.open(single);
            Map<String, SafeTensorsFile> by = new LinkedHashMap<>();
            for (String n : f.names()) by.put(n, f);
            return new SafeTensorsCheckpoint(dir, List.of(f), by);
        }
        if (!Files.isRegularFile(index))
            throw new SafeTensorsException(dir + ": no " + SINGLE_FILE + " and no " + INDEX_FILE);
        Map<String, String> weightMap = readWeightMap(index);
        List<SafeTensorsFile> opened = new ArrayList<>();
        try {
            Map<String, SafeTensorsFile> shards = new LinkedHashMap<>();
            for (String shard : weightMap.values()) {
                if (shards.containsKey(shard)) continue;
                Path p = dir.resolve(shard);
                if (!Files.isRegularFile(p))
                    throw new SafeTensorsException(index + ": shard " + shard + " (of tensor "
                            + firstTensorOf(weightMap, shard) + ") does not exist in " + dir);
                SafeTensorsFile f = SafeTensorsFile.open(p);
                opened.add(f);
                shards.put(shard, f);
            }
            Map<String, SafeTensorsFile> by = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafeTensorsFile f = shards.get(e.getValue());
                if (!f.contains(e.getKey()))
                    throw new SafeTensorsException(index + ": tensor " + e.getKey() + " is listed in shard "
                            + e.getValue() + ", which does not hold it");
                by.put(e.getKey(), f);
            }
            for (Map.Entry<String, SafeTensorsFile> s : shards.entrySet())
                for (String n : s.getValue().names()) {
                    String listed = weightMap.get(n);
                    if (listed == null)
                        throw new SafeTensorsException(dir.resolve(s.getKey()) + ": tensor " + n
                                + " is not listed in " + INDEX_FILE);
                    if (!listed.equals(s.getKey()))
                        throw new SafeTensorsException(dir.resolve(s.getKey()) + ": tensor " + n
                                + " is also in shard " + listed + " (a tensor must be in one shard)");
                }
            return new SafeTensorsCheckpoint(dir, List.copyOf(opened), by);
        } catch (IOException | RuntimeException e) {
            for (SafeTensorsFile f : opened) f.close();
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path index) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(index));
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr();
            throw new SafeTensorsException(index + where + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty())
            throw new SafeTensorsException(index + ": no \"weight_map\" object of tensor names to shard files");
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isTextual())
                throw new SafeTensorsException(index + ": weight_map[" + e.getKey() + "] is not a file name: " + v);
            String shard = v.asText();
            // A shard is a file beside the index: a path could read anything the user can (an untrusted folder).
            if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals(".") || shard.equals(".."))
                throw new SafeTensorsException(index + ": weight_map[" + e.getKey() + "] = \"" + shard
                        + "\" is not a plain file name in the model folder");
            weightMap.put(e.getKey(), shard);
        }
        return weightMap;
    }

    private static String firstTensorOf(Map<String, String> weightMap, String shard) {
        for (Map.Entry<String, String> e : weightMap.entrySet()) if (e.getValue().equals(shard)) return e.getKey();
        return "?";
    }

    /** The model folder. */
    public Path dir() {
        return dir;
    }

    /** The safetensors files: one, or the shards in index order. */
    public List<SafeTensorsFile> files() {
        return files;
    }

    /** Every tensor name, in file (or index) order. */
    public List<String> names() {
        return List.copyOf(byTensor.keySet());
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /** The file holding {@code name}; fails naming the folder and the tensor when none does. */
    public SafeTensorsFile fileOf(String name) throws SafeTensorsException {
        SafeTensorsFile f = byTensor.get(name);
        if (f == null) throw new SafeTensorsException(dir + ": no tensor '" + name + "' in the checkpoint");
        return f;
    }

    public SafeTensorsFile.TensorInfo info(String name) throws SafeTensorsException {
        return fileOf(name).info(name);
    }

    /** The tensor as floats, after checking its shape (F16 and BF16 widen exactly). */
    public float[] floats(String name, long... shape) throws IOException {
        return fileOf(name).floats(name, shape);
    }

    /** As {@link #floats}, failing on a NaN or infinite element (named). */
    public float[] finiteFloats(String name, long... shape) throws IOException {
        return fileOf(name).finiteFloats(name, shape);
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafeTensorsFile f : files) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
