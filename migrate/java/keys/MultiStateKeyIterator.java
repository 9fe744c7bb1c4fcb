/*
 * flinkplane: the key iterator of the State Processor API as Flink fixed it in
 * FLINK-37109 ("Improve state processor API key iteration speed"), for the
 * source side of the state migration on FLINK-1_20.
 *
 * flink-state-processor-api 1.20.0 (the only 1.20 release of the module the
 * runtimes' Maven repository serves) iterates the keys of each state in turn
 * and, to skip a key it has already returned, deletes each key it has read
 * from every state (remove() -> State.clear()). With RocksDB that is a delete
 * per state per key while the keys are iterated, which can make the read of a
 * large state take many times longer than the rest of the migration. The
 * 1.20.5 runtime's state backends already have the fix's other half,
 * KeyedStateBackend.getKeys(List<String>, N): the distinct keys of several
 * states in one ordered pass (RocksMultiStateKeysIterator). This class, with
 * the name, constructor and methods of 1.20.0's, uses it, as the fixed
 * releases do; the helper's jar comes first on the read JVM's class path, so
 * it replaces 1.20.0's. Nothing is deleted: remove() has nothing to do.
 */
package org.apache.flink.state.api.input;

import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Preconditions;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Stream;

public final class MultiStateKeyIterator<K> implements CloseableIterator<K> {
    private final Iterator<K> iterator;
    private final CloseableRegistry registry = new CloseableRegistry();

    public MultiStateKeyIterator(List<? extends StateDescriptor<?, ?>> descriptors, KeyedStateBackend<K> backend) {
        Preconditions.checkNotNull(descriptors);
        Preconditions.checkNotNull(backend);
        List<String> names = new ArrayList<>(descriptors.size());
        try {
            for (StateDescriptor<?, ?> d : descriptors) {
                // As 1.20.0 does: every state exists in the backend (a no-op
                // for the states the reader function registered).
                backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, d);
                names.add(d.getName());
            }
        } catch (Exception e) {
            throw new RuntimeException("Failed to read keys from configured StateBackend", e);
        }
        Stream<K> keys = backend.getKeys(names, VoidNamespace.INSTANCE);
        try {
            registry.registerCloseable(keys::close);
        } catch (IOException e) {
            throw new RuntimeException("Failed to read keys from configured StateBackend", e);
        }
        iterator = keys.iterator();
    }

    @Override
    public boolean hasNext() {
        return iterator.hasNext();
    }

    @Override
    public K next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return iterator.next();
    }

    /** The keys are distinct already (1.20.0's reader calls this after each key). */
    @Override
    public void remove() {}

    @Override
    public void close() throws Exception {
        registry.close();
    }
}
