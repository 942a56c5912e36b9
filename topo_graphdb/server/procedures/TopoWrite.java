/*
 * Bulk write-back and export procedures of topo-graphdb, compiled against the assembled server's
 * jars when the local server starts (topo_graphdb/server/_procedures.py) and loaded from its
 * plugins folder.
 *
 * Each write procedure does, in the caller's transaction, exactly what the Cypher statements
 * topo_graphdb/queries/write_node_properties.cypher and write_predicted_links.cypher do, for nodes
 * found by element id (with an optional label guard) or by a key property under one or more
 * labels; the parameters come as columns (one list per property) instead of one map per row,
 * which is what makes them cheaper to send and to read.
 * topo.export.relationships reads, in the caller's transaction, the nodes and relationships that
 * topo_graphdb/queries/export_nodes.cypher and export_rels.cypher read for a selection without
 * node or relationship predicates, times or weights: each node's element id once, and the ends of
 * the relationships as positions in that node list (packed int32 arrays instead of one element id
 * string per relationship), through the kernel's cursors: one sequential pass over the
 * relationship store when the selection holds most of it, as GDS projects, else each node's own.
 * The client uses them when the server has them and the Cypher statements otherwise.
 */
package topo.graphdb;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.ToIntFunction;
import java.util.stream.StreamSupport;
import java.util.stream.Stream;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Direction;
import org.neo4j.graphdb.Entity;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.NotFoundException;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.ResourceIterable;
import org.neo4j.graphdb.Transaction;
import org.neo4j.internal.kernel.api.NodeCursor;
import org.neo4j.internal.kernel.api.PropertyCursor;
import org.neo4j.internal.kernel.api.Read;
import org.neo4j.internal.kernel.api.RelationshipScanCursor;
import org.neo4j.internal.kernel.api.RelationshipTraversalCursor;
import org.neo4j.internal.kernel.api.TokenRead;
import org.neo4j.kernel.api.KernelTransaction;
import org.neo4j.kernel.impl.coreapi.InternalTransaction;
import org.neo4j.storageengine.api.PropertySelection;
import org.neo4j.storageengine.api.RelationshipSelection;
import org.neo4j.token.api.TokenConstants;
import org.neo4j.values.ElementIdMapper;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;

public class TopoWrite {
    /** Raised for a parameter the client never sends (a bug, not bad data): fails the transaction. */
    static IllegalArgumentException bad(String what) {
        return new IllegalArgumentException("topo.write: " + what);
    }

    @Context
    public Transaction tx;

    public static class NodeResult {
        public long missing;
        public List<Object> missing_sample;
    }

    public static class LinkResult {
        public long matched;
        public long deleted;
        public long written;
        public long missing_targets;
        public long missing;
        public List<Object> missing_sample;
    }

    public static class EdgeBlock {
        public String ids;
        public List<Object> keys;
        public byte[] sources;
        public byte[] targets;
        public long count;
    }

    /**
     * The nodes that id {@code id} names, as the Cypher statements match them: without a key, the
     * node of that element id if it carries one of {@code labels} (any node when there are none);
     * with a key, every node of one of {@code labels} whose {@code key} property equals the id.
     */
    private List<Node> find(Object id, Label[] labels, String key) {
        if (key != null) {
            if (labels.length == 0) {
                throw bad("a key property needs a label");
            }
            List<Node> found = new ArrayList<>(1);
            for (Label label : labels) {
                try (ResourceIterator<Node> it = tx.findNodes(label, key, id)) {
                    while (it.hasNext()) {
                        Node n = it.next();
                        if (labels.length == 1 || !found.contains(n)) {
                            found.add(n);
                        }
                    }
                }
            }
            return found;
        }
        Node n;
        try {
            n = tx.getNodeByElementId((String) id);
        } catch (NotFoundException | IllegalArgumentException | ClassCastException e) {
            return List.of();
        }
        if (labels.length == 0) {
            return List.of(n);
        }
        for (Label label : labels) {
            if (n.hasLabel(label)) {
                return List.of(n);
            }
        }
        return List.of();
    }

    /** The id of node {@code n} as the client names it: its element id, or its key property (null when absent). */
    private static Object idOf(Node n, String key) {
        if (key == null) {
            return n.getElementId();
        }
        Object v = n.getProperty(key, null);
        return v instanceof Integer || v instanceof Short || v instanceof Byte ? ((Number) v).longValue() : v;
    }

    private static Label[] labels(List<String> names) {
        Label[] out = new Label[names.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Label.label(names.get(i));
        }
        return out;
    }

    /** A property value as Cypher's SET stores it: lists become arrays of their element type. */
    static Object stored(Object value) {
        if (!(value instanceof List<?> list)) {
            return value;
        }
        if (list.isEmpty()) {
            throw bad("an empty list cannot be stored by this procedure");
        }
        Object first = list.get(0);
        if (first instanceof String) {
            return list.toArray(new String[0]);
        }
        if (first instanceof Boolean) {
            boolean[] out = new boolean[list.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = (Boolean) list.get(i);
            }
            return out;
        }
        boolean integral = true;
        for (Object v : list) {
            if (!(v instanceof Long)) {
                integral = false;
                if (!(v instanceof Number)) {
                    throw bad("a list property mixes numbers and other values");
                }
            }
        }
        if (integral) {
            long[] out = new long[list.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = (Long) list.get(i);
            }
            return out;
        }
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) list.get(i)).doubleValue();
        }
        return out;
    }

    /** SET e += {key: value}: a null value removes the key. */
    static void put(Entity e, String key, Object value) {
        if (value == null) {
            e.removeProperty(key);
        } else {
            e.setProperty(key, stored(value));
        }
    }

    /** SET e += map. */
    static void putAll(Entity e, Map<String, Object> map) {
        for (Map.Entry<String, Object> entry : map.entrySet()) {
            put(e, entry.getKey(), entry.getValue());
        }
    }

    /** Keeps {@code id} among the sample of ids that matched no node, while it has room. */
    static void sample(List<Object> missingSample, Object id, long sampleSize) {
        if (missingSample.size() < sampleSize) {
            missingSample.add(id);
        }
    }

    @Procedure(name = "topo.write.nodeProperties", mode = Mode.WRITE)
    @Description("topo.write.nodeProperties(ids, names, columns, stamp, labels, key, sampleSize): "
            + "n += {names[c]: columns[c][i], ...stamp} on the nodes that ids[i] names")
    public Stream<NodeResult> nodeProperties(
            @Name("ids") List<Object> ids,
            @Name("names") List<String> names,
            @Name("columns") List<List<Object>> columns,
            @Name("stamp") Map<String, Object> stamp,
            @Name("labels") List<String> labelNames,
            @Name("key") String key,
            @Name("sampleSize") long sampleSize) {
        if (names.size() != columns.size()) {
            throw bad("names and columns differ in length");
        }
        for (List<Object> column : columns) {
            if (column.size() != ids.size()) {
                throw bad("a column and the ids differ in length");
            }
        }
        Label[] labels = labels(labelNames);
        NodeResult result = new NodeResult();
        result.missing_sample = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            List<Node> found = find(ids.get(i), labels, key);
            if (found.isEmpty()) {
                result.missing++;
                sample(result.missing_sample, ids.get(i), sampleSize);
            }
            for (Node n : found) {
                for (int c = 0; c < names.size(); c++) {
                    put(n, names.get(c), columns.get(c).get(i));
                }
                putAll(n, stamp);
            }
        }
        return Stream.of(result);
    }

    @Procedure(name = "topo.write.predictedLinks", mode = Mode.WRITE)
    @Description("topo.write.predictedLinks(sources, counts, targets, scores, more, relType, replace, common, "
            + "labels, key, nodeNames, stamp, sampleSize): the predicted links of each source, replaced atomically")
    public Stream<LinkResult> predictedLinks(
            @Name("sources") List<Object> sources,
            @Name("counts") List<Long> counts,
            @Name("targets") List<Object> targets,
            @Name("scores") List<Double> scores,
            @Name("more") Map<String, List<Object>> more,
            @Name("relType") String relType,
            @Name("replace") boolean replace,
            @Name("common") Map<String, Object> common,
            @Name("labels") List<String> labelNames,
            @Name("key") String key,
            @Name("nodeNames") List<String> nodeNames,
            @Name("stamp") Map<String, Object> stamp,
            @Name("sampleSize") long sampleSize) {
        if (sources.size() != counts.size() || targets.size() != scores.size()) {
            throw bad("sources/counts or targets/scores differ in length");
        }
        for (List<Object> column : more.values()) {
            if (column.size() != targets.size()) {
                throw bad("a link property column and the targets differ in length");
            }
        }
        Label[] labels = labels(labelNames);
        RelationshipType type = RelationshipType.withName(relType);
        LinkResult result = new LinkResult();
        result.missing_sample = new ArrayList<>();
        int at = 0;
        for (int s = 0; s < sources.size(); s++) {
            int from = at;
            int to = at + counts.get(s).intValue();
            at = to;
            if (to > targets.size()) {
                throw bad("counts add up to more than the targets");
            }
            List<Node> found = find(sources.get(s), labels, key);
            if (found.isEmpty()) {
                result.missing++;
                sample(result.missing_sample, sources.get(s), sampleSize);
            }
            for (Node a : found) {
                writeSource(a, from, to, targets, scores, more, type, replace, common, labels, key, nodeNames, stamp, result);
            }
        }
        if (at != targets.size()) {
            throw bad("counts do not add up to the targets");
        }
        return Stream.of(result);
    }

    /** One matched source: its links replaced by targets[from, to), then its node lists and stamp. */
    private void writeSource(Node a, int from, int to, List<Object> targets, List<Double> scores,
            Map<String, List<Object>> more, RelationshipType type, boolean replace, Map<String, Object> common,
            Label[] labels, String key, List<String> nodeNames, Map<String, Object> stamp, LinkResult result) {
        result.matched++;
        Set<Object> wanted = new HashSet<>(targets.subList(from, to));
        Map<String, List<Relationship>> kept = new HashMap<>();  // by the end node's element id
        try (ResourceIterable<Relationship> rels = a.getRelationships(Direction.OUTGOING, type)) {
            for (Relationship rel : rels) {
                Node end = rel.getEndNode();
                Object endId = idOf(end, key);
                if (endId == null) {
                    continue;  // as in Cypher, where `NOT null IN list` is null: the link stays
                }
                if (wanted.contains(endId)) {
                    kept.computeIfAbsent(end.getElementId(), k -> new ArrayList<>(1)).add(rel);
                } else if (replace) {
                    rel.delete();
                    result.deleted++;
                }
            }
        }
        List<Object> got = new ArrayList<>(to - from);
        List<Double> gotScores = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            for (Node b : find(targets.get(i), labels, key)) {
                List<Relationship> links = kept.get(b.getElementId());
                if (links == null) {
                    links = List.of(a.createRelationshipTo(b, type));
                    kept.put(b.getElementId(), links);
                }
                for (Relationship p : links) {
                    p.setProperty("score", scores.get(i));
                    p.setProperty("rank", (long) (i - from + 1));
                    putAll(p, common);
                    for (Map.Entry<String, List<Object>> e : more.entrySet()) {
                        put(p, e.getKey(), e.getValue().get(i));
                    }
                }
                got.add(targets.get(i));
                gotScores.add(scores.get(i));
            }
        }
        result.written += got.size();
        result.missing_targets += (to - from) - got.size();
        if (!nodeNames.isEmpty()) {
            put(a, nodeNames.get(0), got.isEmpty() ? null : got);
            put(a, nodeNames.get(1), got.isEmpty() ? null : gotScores);
        }
        putAll(a, stamp);
    }

    @Procedure(name = "topo.export.relationships", mode = Mode.READ)
    @Description("topo.export.relationships(labels, excludedLabels, types, excluded, groupSize, mode, key): the nodes "
            + "with one of labels (every node without one of excludedLabels when labels is empty) by "
            + "increasing id, their element ids in records of groupSize (joined by newlines), then their "
            + "outgoing relationships of types (any type but excluded when types is empty) between those "
            + "nodes in records of up to 16 * groupSize, as int32 little-endian positions in that order; "
            + "mode 'pass' reads them in one pass over all relationships, 'follow' from each node, 'auto' "
            + "chooses by the counts; with a key, each id record has the nodes' values of that property too")
    public Stream<EdgeBlock> relationships(
            @Name("labels") List<String> labelNames,
            @Name("excludedLabels") List<String> excludedLabels,
            @Name("types") List<String> typeNames,
            @Name("excluded") List<String> excluded,
            @Name("groupSize") long groupSize,
            @Name(value = "mode", defaultValue = "auto") String mode,
            @Name(value = "key", defaultValue = "") String key) {
        if (groupSize < 1) {
            throw bad("groupSize must be at least 1");
        }
        if (!List.of("auto", "pass", "follow").contains(mode)) {
            throw bad("mode must be auto, pass or follow");
        }
        InternalTransaction itx = (InternalTransaction) tx;
        long[] nodes = selected(itx, labelNames, excludedLabels);
        Scan scan = new Scan(itx, nodes, labelNames, typeNames, excluded, (int) Math.min(groupSize, Integer.MAX_VALUE / 16), mode, key);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(scan, Spliterator.ORDERED), false)
                .onClose(scan::close);
    }

    /** The ids of the nodes with one of the labels (each once; every node without an excluded label when none), increasing. */
    private static long[] selected(InternalTransaction itx, List<String> labelNames, List<String> excludedLabels) {
        Ids out = new Ids();
        if (labelNames.isEmpty()) {
            KernelTransaction ktx = itx.kernelTransaction();
            int[] skip = tokenIds(excludedLabels, ktx.tokenRead()::nodeLabel);
            try (NodeCursor nodes = ktx.cursors().allocateNodeCursor(ktx.cursorContext(), ktx.memoryTracker())) {
                ktx.dataRead().allNodesScan(nodes);
                while (nodes.next()) {
                    boolean keep = true;
                    for (int label : skip) {
                        keep = keep && !nodes.hasLabel(label);
                    }
                    if (keep) {
                        out.add(nodes.nodeReference());
                    }
                }
            }
        } else {
            for (String name : labelNames) {  // the label index
                try (ResourceIterator<Node> it = itx.findNodes(Label.label(name))) {
                    while (it.hasNext()) {
                        out.add(it.next().getId());
                    }
                }
            }
        }
        long[] ids = out.array();
        Arrays.sort(ids);
        return labelNames.size() > 1 ? Arrays.stream(ids).distinct().toArray() : ids;
    }

    /** The ids of the named tokens that exist (unknown names have none). */
    private static int[] tokenIds(List<String> names, ToIntFunction<String> lookup) {
        return names.stream().mapToInt(lookup).filter(id -> id != TokenConstants.NO_TOKEN).distinct().toArray();
    }

    /** A growing array of longs. */
    static final class Ids {
        private long[] values = new long[1024];
        private int size;

        void add(long v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, 2 * size);
            }
            values[size++] = v;
        }

        long[] array() {
            return Arrays.copyOf(values, size);
        }
    }

    /** Node id -> position in the node list: an array over the ids when they are dense, else a map. */
    static final class Positions {
        private final int[] dense;
        private final Map<Long, Integer> sparse;

        /** {@code nodes}: distinct node ids, increasing, as {@link #selected} gives them. */
        Positions(long[] nodes) {
            long top = nodes.length == 0 ? -1 : nodes[nodes.length - 1];
            boolean small = top < 4L * nodes.length + 1024;
            dense = small ? new int[(int) top + 1] : null;
            sparse = small ? null : new HashMap<>(2 * nodes.length + 1);
            if (small) {
                Arrays.fill(dense, -1);
            }
            for (int i = 0; i < nodes.length; i++) {
                if (small) {
                    dense[(int) nodes[i]] = i;
                } else {
                    sparse.put(nodes[i], i);
                }
            }
        }

        /** The position of node {@code id}, or -1 when it is not among the nodes. */
        int of(long id) {
            if (dense != null) {
                return id >= 0 && id < dense.length ? dense[(int) id] : -1;
            }
            Integer at = sparse.get(id);
            return at == null ? -1 : at;
        }
    }

    /**
     * The records of the export, one per {@link #next}: the element ids of the nodes in groups (and
     * their values of the key property, null where a node has none), then the relationships between
     * them, read with the kernel's cursors (allocated once). When the store holds few relationships
     * besides those of the selection's types and labels, it is read in one sequential pass over all
     * relationships (as GDS projects); otherwise each selected node's relationships are followed (see
     * {@link #passPays}); {@code mode} "pass" or "follow" chooses instead. The order of the
     * relationships is that of the pass or of the nodes, each the same on every call.
     */
    static final class Scan implements Iterator<EdgeBlock>, AutoCloseable {
        private static final int NODE_COST = 60;  // relationships of a pass that cost as much as starting one node's

        private final long[] nodes;
        private final Positions position;
        private final ElementIdMapper elementIds;
        private final Read read;
        private final int group;
        private final int[] wanted;  // type ids, when types are named
        private final int[] skip;  // excluded type ids, when they are not
        private final RelationshipSelection selection;
        private final NodeCursor node;  // when relationships are followed or a key is read
        private final RelationshipTraversalCursor chain;
        private final RelationshipScanCursor pass;
        private final int keyId;  // the key property's token, NO_TOKEN without a key (or one that no node has)
        private final PropertyCursor keyValue;  // null without a key
        private int nextId;  // the next node whose element id is sent
        private int nextNode;  // the next node whose relationships are followed (no pass)
        private boolean done;

        Scan(InternalTransaction itx, long[] nodes, List<String> labelNames, List<String> typeNames, List<String> excluded, int group,
                String mode, String key) {
            KernelTransaction ktx = itx.kernelTransaction();
            TokenRead tokens = ktx.tokenRead();
            this.nodes = nodes;
            this.position = new Positions(nodes);
            this.elementIds = itx.elementIdMapper();
            this.read = ktx.dataRead();
            this.group = group;
            this.wanted = tokenIds(typeNames, tokens::relationshipType);
            this.skip = typeNames.isEmpty() ? tokenIds(excluded, tokens::relationshipType) : new int[0];
            this.selection = typeNames.isEmpty() ? RelationshipSelection.selection(Direction.OUTGOING)
                    : wanted.length == 0 ? RelationshipSelection.NO_RELATIONSHIPS
                    : RelationshipSelection.selection(wanted, Direction.OUTGOING);
            boolean sequential = mode.equals("auto")
                    ? passPays(read, tokenIds(labelNames, tokens::nodeLabel), typeNames.isEmpty() ? null : wanted, nodes.length)
                    : mode.equals("pass");
            this.done = nodes.length == 0 || (!typeNames.isEmpty() && wanted.length == 0);
            this.node = sequential && key.isEmpty() ? null : ktx.cursors().allocateNodeCursor(ktx.cursorContext(), ktx.memoryTracker());
            this.chain = sequential ? null : ktx.cursors().allocateRelationshipTraversalCursor(ktx.cursorContext(), ktx.memoryTracker());
            this.pass = sequential ? ktx.cursors().allocateRelationshipScanCursor(ktx.cursorContext(), ktx.memoryTracker()) : null;
            if (pass != null && !done) {
                read.allRelationshipsScan(pass);
            }
            this.keyId = key.isEmpty() ? TokenConstants.NO_TOKEN : tokens.propertyKey(key);
            this.keyValue = key.isEmpty() ? null : ktx.cursors().allocatePropertyCursor(ktx.cursorContext(), ktx.memoryTracker());
        }

        @Override
        public boolean hasNext() {
            if (nextId < nodes.length) {
                return true;
            }
            if (done) {
                close();
            }
            return !done;
        }

        @Override
        public EdgeBlock next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            EdgeBlock out = new EdgeBlock();
            Pairs pairs = new Pairs();
            if (nextId < nodes.length) {
                int to = (int) Math.min(nodes.length, (long) nextId + group);
                StringBuilder ids = new StringBuilder(48 * (to - nextId));
                for (int i = nextId; i < to; i++) {
                    if (i > nextId) {
                        ids.append('\n');
                    }
                    ids.append(elementIds.nodeElementId(nodes[i]));
                }
                out.keys = keyValue == null ? List.of() : keys(nextId, to);
                nextId = to;
                out.ids = ids.toString();
            } else {
                out.ids = "";
                out.keys = List.of();
                if (pass != null) {
                    done = !passed(pairs, 16 * group);
                } else {
                    int to = (int) Math.min(nodes.length, (long) nextNode + group);
                    followed(pairs, nextNode, to);
                    nextNode = to;
                    done = to == nodes.length;
                }
            }
            out.sources = packed(pairs.src, pairs.n);
            out.targets = packed(pairs.dst, pairs.n);
            out.count = pairs.n;
            return out;
        }

        /** The key property's values of nodes[from, to) (null where a node has none). */
        private List<Object> keys(int from, int to) {
            List<Object> out = new ArrayList<>(to - from);
            for (int i = from; i < to; i++) {
                Object value = null;
                read.singleNode(nodes[i], node);
                if (keyId != TokenConstants.NO_TOKEN && node.next()) {
                    node.properties(keyValue, PropertySelection.selection(keyId));
                    if (keyValue.next()) {
                        value = keyValue.propertyValue().asObjectCopy();
                    }
                }
                out.add(value);
            }
            return out;
        }

        /** Up to {@code most} relationships of the pass into {@code pairs}; false when the pass has ended. */
        private boolean passed(Pairs pairs, int most) {
            while (pairs.n < most) {
                if (!pass.next()) {
                    return false;
                }
                int type = pass.type();
                if (wanted.length > 0 ? !among(wanted, type) : among(skip, type)) {
                    continue;
                }
                int i = position.of(pass.sourceNodeReference());
                int j = i < 0 ? -1 : position.of(pass.targetNodeReference());
                if (j >= 0) {
                    pairs.add(i, j);  // both ends selected, as the Cypher pattern's labels and filter keep them
                }
            }
            return true;
        }

        /** The relationships of nodes[from, to) into {@code pairs}, in the order each node's relationships come. */
        private void followed(Pairs pairs, int from, int to) {
            for (int i = from; i < to; i++) {
                read.singleNode(nodes[i], node);
                if (!node.next()) {
                    continue;
                }
                node.relationships(chain, selection);
                while (chain.next()) {
                    if (skip.length > 0 && among(skip, chain.type())) {
                        continue;
                    }
                    int j = position.of(chain.targetNodeReference());
                    if (j >= 0) {
                        pairs.add(i, j);
                    }
                }
            }
        }

        /**
         * Whether one pass over the store's relationships costs less than following the selected
         * nodes': about 25 ns a relationship against 1.5 us a node plus 50 ns a relationship of
         * theirs (measured on soc-slashdot0902), their relationships estimated from the counts store
         * as those of the types ({@code types}, null: any) starting at a node of one of the labels
         * (any node when there are none).
         */
        private static boolean passPays(Read read, int[] labels, int[] types, int nodes) {
            int any = TokenConstants.ANY_LABEL;
            long all = read.countsForRelationship(any, TokenConstants.ANY_RELATIONSHIP_TYPE, any);
            long theirs = 0;
            for (int label : labels.length == 0 ? new int[] {any} : labels) {
                for (int type : types == null ? new int[] {TokenConstants.ANY_RELATIONSHIP_TYPE} : types) {
                    theirs += read.countsForRelationship(label, type, any);
                }
            }
            return all <= (long) NODE_COST * nodes + 2 * theirs;
        }

        private static boolean among(int[] values, int v) {
            for (int x : values) {
                if (x == v) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void close() {
            for (AutoCloseable c : new AutoCloseable[] {node, chain, pass, keyValue}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
        }
    }

    /** Growing arrays of (source, target) positions. */
    static final class Pairs {
        int[] src = new int[1024];
        int[] dst = new int[1024];
        int n;

        void add(int i, int j) {
            if (n == src.length) {
                src = Arrays.copyOf(src, 2 * n);
                dst = Arrays.copyOf(dst, 2 * n);
            }
            src[n] = i;
            dst[n] = j;
            n++;
        }
    }

    private static byte[] packed(int[] values, int n) {
        ByteBuffer buf = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        buf.asIntBuffer().put(values, 0, n);
        return buf.array();
    }
}
