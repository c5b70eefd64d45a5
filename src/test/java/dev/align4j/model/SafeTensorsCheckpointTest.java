package dev.align4j.model;

import static dev.align4j.model.SafeTensorsTestFiles.assertFails;
import static dev.align4j.model.SafeTensorsTestFiles.file;
import static dev.align4j.model.SafeTensorsTestFiles.u16;
import static dev.align4j.model.SafeTensorsTestFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Single-file and sharded Hugging Face checkpoints, and every way an index can be wrong. */
class SafeTensorsCheckpointTest {
    static final String INDEX = SafeTensorsCheckpoint.INDEX_FILE;

    /** Two shards as save_pretrained writes them: an F32 one and a BF16 one, and the index. */
    static void twoShards(Path dir) throws IOException {
        new SafeTensorsWriter().putFloats("a.weight", new float[] {1, 2, 3, 4, 5, 6}, 2, 3)
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        // bf16 bits of 1.5, -2, 0.25
        write(dir, "model-00002-of-00002.safetensors",
                file("{\"b.weight\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", u16(0x3fc0, 0xc000, 0x3e80)));
        index(dir, "\"a.weight\": \"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\"");
    }

    static void index(Path dir, String weightMap) throws IOException {
        Files.writeString(dir.resolve(INDEX), "{\"metadata\": {\"total_size\": 30}, \"weight_map\": {" + weightMap + "}}");
    }

    @Test
    void readsShardsAcrossFilesAndDtypes(@TempDir Path dir) throws IOException {
        twoShards(dir);
        try (SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(dir)) {
            assertEquals(List.of("a.weight", "b.weight"), c.names());
            assertEquals(2, c.files().size());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, c.floats("a.weight", 2, 3));
            assertArrayEquals(new float[] {1.5f, -2f, 0.25f}, c.floats("b.weight", 3));
            assertEquals(SafeTensorsDType.BF16, c.info("b.weight").dtype());
            assertFails(() -> c.floats("c.weight"), "no tensor 'c.weight'");
            assertFails(() -> c.floats("a.weight", 3, 2), "a.weight", "expected shape [3, 2]");
        }
    }

    @Test
    void singleFileWinsOverAnIndex(@TempDir Path dir) throws IOException {
        twoShards(dir);
        new SafeTensorsWriter().putFloats("x", new float[] {7}, 1).write(dir.resolve(SafeTensorsCheckpoint.SINGLE_FILE));
        try (SafeTensorsCheckpoint c = SafeTensorsCheckpoint.open(dir)) {
            assertEquals(List.of("x"), c.names());  // as transformers: model.safetensors first
        }
    }

    @Test
    void badIndexesNameTheFileAndTensor(@TempDir Path dir) throws IOException {
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "no model.safetensors and no " + INDEX);
        twoShards(dir);
        Files.writeString(dir.resolve(INDEX), "{\"weight_map\": {\n \"a.weight\": }");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), INDEX + ":2:", "not valid JSON");
        Files.writeString(dir.resolve(INDEX), "{\"metadata\": {}}");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "no \"weight_map\"");
        index(dir, "\"a.weight\": 3");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "weight_map[a.weight] is not a file name");
        index(dir, "\"a.weight\": \"../../etc/passwd\", \"b.weight\": \"model-00002-of-00002.safetensors\"");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "\"../../etc/passwd\" is not a plain file name");
        index(dir, "\"a.weight\": \"model-00003.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\"");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "shard model-00003.safetensors (of tensor a.weight) does not exist");
        index(dir, "\"a.weight\": \"model-00002-of-00002.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\"");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "tensor a.weight is listed in shard model-00002-of-00002.safetensors, which does not hold it");
        // a shard holding a tensor the index does not list
        new SafeTensorsWriter().putFloats("b.weight", new float[] {1, 2, 3}, 3).putFloats("c.weight", new float[] {4}, 1)
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        index(dir, "\"a.weight\": \"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\"");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "model-00002-of-00002.safetensors: tensor c.weight is not listed");
        // the same tensor in two shards
        new SafeTensorsWriter().putFloats("a.weight", new float[] {9}, 1).putFloats("b.weight", new float[] {1, 2, 3}, 3)
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        index(dir, "\"a.weight\": \"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\"");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "tensor a.weight is also in shard model-00001-of-00002.safetensors");
        // a shard that is not safetensors at all
        Files.writeString(dir.resolve("model-00002-of-00002.safetensors"), "not a safetensors file");
        assertFails(() -> SafeTensorsCheckpoint.open(dir), "model-00002-of-00002.safetensors");
    }
}
