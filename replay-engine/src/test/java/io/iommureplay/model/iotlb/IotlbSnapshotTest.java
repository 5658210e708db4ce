package io.iommureplay.model.iotlb;

import static io.iommureplay.model.iotlb.IotlbModel.NO_PASID;
import static io.iommureplay.model.iotlb.IotlbTesting.K4;
import static io.iommureplay.model.iotlb.IotlbTesting.NIC;
import static io.iommureplay.model.iotlb.IotlbTesting.NIC_SID;
import static io.iommureplay.model.iotlb.IotlbTesting.NVME;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.model.iotlb.IotlbConfig.Mode;
import io.iommureplay.model.iotlb.IotlbTesting.Recorder;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A model driven by random events is saved halfway, restored, and both copies are driven on by the
 * same events: they must tell their listeners the same things and end in the same bytes.
 */
class IotlbSnapshotTest {

  private static final int OPERATIONS = 3000;

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aRestoredModelCarriesOnExactlyAsTheOriginal(Mode mode) {
    Recorder before = new Recorder();
    IotlbModel original = new IotlbModel(new IotlbConfig(mode, 64), before);
    original.defineDomain(2, true);
    original.attach(1, NIC, NO_PASID, true);
    original.attach(1, NVME, NO_PASID, false);
    original.attach(2, NIC, 5, true);
    Random random = new Random(42);
    for (int seq = 1; seq <= OPERATIONS / 2; seq++) {
      step(original, random, seq);
    }
    byte[] saved = save(original);

    Recorder after = new Recorder();
    IotlbModel restored = IotlbModel.restore(new SnapshotInput(saved), after);

    assertThat(save(restored)).isEqualTo(saved);
    assertThat(restored.cachedPages()).isEqualTo(original.cachedPages());
    assertThat(restored.config()).isEqualTo(original.config());
    before.take();
    long seed = random.nextLong();
    Random forOriginal = new Random(seed);
    Random forRestored = new Random(seed);
    for (int seq = OPERATIONS / 2 + 1; seq <= OPERATIONS; seq++) {
      step(original, forOriginal, seq);
      step(restored, forRestored, seq);
      assertThat(after.take()).as("events at seq %d", seq).isEqualTo(before.take());
    }
    assertThat(save(restored)).isEqualTo(save(original));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aDamagedSnapshotIsRefused(Mode mode) {
    IotlbModel model = new IotlbModel(new IotlbConfig(mode, 0), IotlbListener.NONE);
    Random random = new Random(7);
    for (int seq = 1; seq <= 200; seq++) {
      step(model, random, seq);
    }
    byte[] saved = save(model);

    assertThatThrownBy(
            () ->
                IotlbModel.restore(
                    new SnapshotInput(Arrays.copyOf(saved, saved.length / 2)), IotlbListener.NONE))
        .isInstanceOf(SnapshotFormatException.class);
    byte[] future = saved.clone();
    future[0] = 2;
    assertThatThrownBy(() -> IotlbModel.restore(new SnapshotInput(future), IotlbListener.NONE))
        .isInstanceOf(SnapshotFormatException.class)
        .hasMessageContaining("format 2");
  }

  private static byte[] save(IotlbModel model) {
    SnapshotOutput out = new SnapshotOutput();
    model.save(out);
    return out.toByteArray();
  }

  /**
   * One random event: unmaps (some with several physical runs), accesses, flushes, table unlinks.
   */
  private static void step(IotlbModel model, Random random, int seq) {
    long domain = 1 + random.nextInt(2);
    long iova = random.nextInt(256) * K4;
    long size = (1 + random.nextInt(16)) * K4;
    switch (random.nextInt(8)) {
      case 0, 1 ->
          model.unmap(
              domain,
              iova,
              size,
              random.nextBoolean() ? 0x4000_0000L + iova : Window.NO_PADDR,
              seq % 4,
              seq * 10L,
              seq);
      case 2 ->
          model.unmap(
              domain,
              iova,
              size,
              new long[] {iova, 0x1000_0000L, iova + K4 / 2, Window.NO_PADDR},
              seq % 4,
              seq * 10L,
              seq);
      case 3, 4 ->
          model.deviceAccess(
              domain,
              random.nextBoolean() ? NIC : NVME,
              domain == 2 ? 5 : NO_PASID,
              iova,
              size,
              seq * 10L,
              seq);
      case 5 ->
          model.invalidate(
              domain,
              IotlbTesting.psi(iova, random.nextInt(5), random.nextBoolean()),
              seq * 10L,
              seq);
      case 6 ->
          model.invalidate(
              -1, IotlbTesting.deviceTlb(NIC_SID, iova, random.nextInt(5)), seq * 10L, seq);
      default -> model.tableUnlinked(domain, 1, iova & -0x200000L, 0x200000, seq * 10L, seq);
    }
  }
}
