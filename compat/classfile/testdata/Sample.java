package sample;

import java.io.Serializable;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** Test vector for the class-file parser (compiled with javac --release 11). */
@Sample.Marker(kind = Thread.State.NEW, type = String.class, nested = @Deprecated)
public class Sample extends ArrayList<String> implements Serializable, Comparable<Sample> {
    @Retention(RetentionPolicy.RUNTIME)
    @interface Marker {
        Thread.State kind();

        Class<?> type();

        Deprecated nested();
    }

    static final long BIG = 1L << 40;
    static final double PI = 3.14;
    private final List<Integer> values = new ArrayList<>();

    public int compareTo(Sample o) {
        return Integer.compare(size(), o.size());
    }

    public String describe(Object o) throws java.io.IOException {
        Function<Object, String> f = String::valueOf;
        Runnable r = () -> values.add(1);
        r.run();
        switch (values.size()) {
            case 0:
                return "zero";
            case 1:
                return f.apply(o);
            case 2:
                return "two";
            default:
                break;
        }
        switch (String.valueOf(o)) {
            case "x":
                return "ex";
            case "long-string-that-hashes":
                return "y";
            default:
        }
        int[][] grid = new int[2][3];
        try {
            return o instanceof Sample ? ((Sample) o).get(0) + grid.length + "é€𝄞" : null;
        } catch (IndexOutOfBoundsException e) {
            return "none";
        }
    }
}
