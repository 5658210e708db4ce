package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.PfnRangeTree.NIL;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The treap against java.util.TreeMap on random disjoint ranges. */
class PfnRangeTreeTest {

  @Test
  void answersLikeATreeMap() {
    Random random = new Random(1);
    PfnRangeTree tree = new PfnRangeTree();
    TreeMap<Long, Long> reference = new TreeMap<>();
    for (int i = 0; i < 200_000; i++) {
      long key = random.nextInt(20_000);
      if (random.nextBoolean()) {
        long last = key + random.nextInt(4);
        Map.Entry<Long, Long> below = reference.floorEntry(last);
        if (below == null || below.getValue() < key) {
          tree.insert(key, last);
          reference.put(key, last);
        }
      } else {
        Map.Entry<Long, Long> entry = reference.ceilingEntry(key);
        if (entry != null) {
          tree.remove(tree.ceiling(key));
          reference.remove(entry.getKey());
        }
      }
      long probe = random.nextInt(20_100);
      assertThat(lo(tree, tree.floor(probe))).isEqualTo(reference.floorKey(probe));
      assertThat(lo(tree, tree.ceiling(probe))).isEqualTo(reference.ceilingKey(probe));
      int node = tree.floor(probe);
      if (node != NIL) {
        assertThat(lo(tree, tree.prev(node))).isEqualTo(reference.lowerKey(tree.lo(node)));
        assertThat(lo(tree, tree.next(node))).isEqualTo(reference.higherKey(tree.lo(node)));
      }
      Map.Entry<Long, Long> holder = reference.floorEntry(probe);
      Long containing = holder != null && holder.getValue() >= probe ? holder.getKey() : null;
      assertThat(lo(tree, tree.containing(probe))).isEqualTo(containing);
    }
    assertThat(tree.size()).isEqualTo(reference.size());
    List<Long> inOrder = new ArrayList<>();
    tree.forEach(
        (lo, hi) -> {
          inOrder.add(lo);
          assertThat(hi).isEqualTo(reference.get(lo));
        });
    assertThat(inOrder).containsExactlyElementsOf(reference.keySet());
  }

  private static Long lo(PfnRangeTree tree, int node) {
    return node == NIL ? null : tree.lo(node);
  }
}
