package dev.align4j.rl;

import dev.align4j.tensor.Collectives;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The rollout rows a rank of a data-parallel job generated, sent to every rank ({@link Collectives#allGather}): each
 * rank writes its rows (index, then what {@code write} puts), and every rank reads every rank's rows back by index.
 */
final class RowExchange {
    private RowExchange() {}

    interface Writer {
        void write(int row, DataOutputStream out) throws IOException;
    }

    interface Reader {
        void read(int row, DataInputStream in) throws IOException;
    }

    /** Sends rows {@code mine} with {@code write}, and reads every rank's (this one's included) with {@code read}. */
    static void allGather(Collectives comm, int[] mine, Writer write, Reader read) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream o = new DataOutputStream(bytes)) {
            o.writeInt(mine.length);
            for (int i : mine) {
                o.writeInt(i);
                write.write(i, o);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (byte[] part : comm.allGather(bytes.toByteArray())) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(part))) {
                for (int c = in.readInt(); c > 0; c--) read.read(in.readInt(), in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static void writeInts(DataOutputStream o, int[] x) throws IOException {
        o.writeInt(x.length);
        for (int v : x) o.writeInt(v);
    }

    static int[] readInts(DataInputStream in) throws IOException {
        int[] x = new int[in.readInt()];
        for (int i = 0; i < x.length; i++) x[i] = in.readInt();
        return x;
    }

    static void writeFloats(DataOutputStream o, float[] x) throws IOException {
        o.writeInt(x.length);
        for (float v : x) o.writeFloat(v);
    }

    static float[] readFloats(DataInputStream in) throws IOException {
        float[] x = new float[in.readInt()];
        for (int i = 0; i < x.length; i++) x[i] = in.readFloat();
        return x;
    }
}
