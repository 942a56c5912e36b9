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
 * string per relationship).
 * The client uses them when the server has them and the Cypher statements otherwise.
 */
package topo.graphdb;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
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
    @Description("topo.export.relationships(labels, excludedLabels, types, excluded, groupSize): the nodes "
            + "with one of labels (every node without one of excludedLabels when labels is empty) by "
            + "increasing id and, for each group of groupSize of them, their element ids (joined by newlines) "
            + "and their outgoing relationships of types (any type but excluded when types is empty) "
            + "between those nodes, as int32 little-endian positions in that order")
    public Stream<EdgeBlock> relationships(
            @Name("labels") List<String> labelNames,
            @Name("excludedLabels") List<String> excludedLabels,
            @Name("types") List<String> typeNames,
            @Name("excluded") List<String> excluded,
            @Name("groupSize") long groupSize) {
        if (groupSize < 1) {
            throw bad("groupSize must be at least 1");
        }
        Node[] nodes = selected(labelNames, excludedLabels);
        Positions position = new Positions(nodes);
        RelationshipType[] types = new RelationshipType[typeNames.size()];
        for (int i = 0; i < types.length; i++) {
            types[i] = RelationshipType.withName(typeNames.get(i));
        }
        Set<String> skip = new HashSet<>(excluded);
        int group = (int) Math.min(groupSize, Integer.MAX_VALUE);
        int blocks = (nodes.length + group - 1) / group;
        return IntStream.range(0, blocks).mapToObj(b -> edgeBlock(nodes, position, types, skip, b * group,
                (int) Math.min(nodes.length, (long) (b + 1) * group)));
    }

    /** The nodes with one of the labels (each once; every node without an excluded label when none), by id. */
    private Node[] selected(List<String> labelNames, List<String> excludedLabels) {
        List<Node> out = new ArrayList<>();
        if (labelNames.isEmpty()) {
            Label[] skip = labels(excludedLabels);
            try (ResourceIterable<Node> all = tx.getAllNodes()) {
                for (Node n : all) {
                    boolean keep = true;
                    for (Label label : skip) {
                        keep = keep && !n.hasLabel(label);
                    }
                    if (keep) {
                        out.add(n);
                    }
                }
            }
        } else {
            Set<Long> seen = new HashSet<>();
            for (String name : labelNames) {
                try (ResourceIterator<Node> it = tx.findNodes(Label.label(name))) {
                    while (it.hasNext()) {
                        Node n = it.next();
                        if (labelNames.size() == 1 || seen.add(n.getId())) {
                            out.add(n);
                        }
                    }
                }
            }
        }
        out.sort(Comparator.comparingLong(Node::getId));
        return out.toArray(new Node[0]);
    }

    /** Node id -> position in the node list: an array over the ids when they are dense, else a map. */
    static final class Positions {
        private final int[] dense;
        private final Map<Long, Integer> sparse;

        /** {@code nodes}: distinct nodes by increasing id, as {@link #selected} gives them. */
        Positions(Node[] nodes) {
            long top = nodes.length == 0 ? -1 : nodes[nodes.length - 1].getId();
            boolean small = top < 4L * nodes.length + 1024;
            dense = small ? new int[(int) top + 1] : null;
            sparse = small ? null : new HashMap<>(2 * nodes.length + 1);
            if (small) {
                Arrays.fill(dense, -1);
            }
            for (int i = 0; i < nodes.length; i++) {
                if (small) {
                    dense[(int) nodes[i].getId()] = i;
                } else {
                    sparse.put(nodes[i].getId(), i);
                }
            }
        }

        /** The position of node {@code id}, or -1 when it is not among the nodes. */
        int of(long id) {
            if (dense != null) {
                return id < dense.length ? dense[(int) id] : -1;
            }
            Integer at = sparse.get(id);
            return at == null ? -1 : at;
        }
    }

    /** The relationships of nodes[from, to), in the order each node's relationships come. */
    private static EdgeBlock edgeBlock(Node[] nodes, Positions position, RelationshipType[] types,
            Set<String> skip, int from, int to) {
        int[] src = new int[1024];
        int[] dst = new int[1024];
        int n = 0;
        for (int i = from; i < to; i++) {
            try (ResourceIterable<Relationship> rels = types.length == 0
                    ? nodes[i].getRelationships(Direction.OUTGOING)
                    : nodes[i].getRelationships(Direction.OUTGOING, types)) {
                for (Relationship rel : rels) {
                    if (!skip.isEmpty() && skip.contains(rel.getType().name())) {
                        continue;
                    }
                    int j = position.of(rel.getEndNodeId());
                    if (j < 0) {
                        continue;  // an end outside the selection, as the Cypher pattern's label and filter leave it out
                    }
                    if (n == src.length) {
                        src = Arrays.copyOf(src, 2 * n);
                        dst = Arrays.copyOf(dst, 2 * n);
                    }
                    src[n] = i;
                    dst[n] = j;
                    n++;
                }
            }
        }
        StringBuilder ids = new StringBuilder(48 * (to - from));
        for (int i = from; i < to; i++) {
            if (i > from) {
                ids.append('\n');
            }
            ids.append(nodes[i].getElementId());
        }
        EdgeBlock out = new EdgeBlock();
        out.ids = ids.toString();
        out.sources = packed(src, n);
        out.targets = packed(dst, n);
        out.count = n;
        return out;
    }

    private static byte[] packed(int[] values, int n) {
        ByteBuffer buf = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        buf.asIntBuffer().put(values, 0, n);
        return buf.array();
    }
}
