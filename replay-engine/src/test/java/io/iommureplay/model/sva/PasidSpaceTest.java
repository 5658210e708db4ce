package io.iommureplay.model.sva;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import org.junit.jupiter.api.Test;

class PasidSpaceTest {
  private static final String GPU = "0000:03:00.0";
  private static final String NIC = "0000:04:00.0";

  @Test
  void pasidsAreLowestFreeFromOneAndLiveAsLongAsTheMm() {
    PasidSpace space = new PasidSpace();
    // iommu_sva_bind_device(): the mm's first bind allocates, lowest free from 1 (ida_alloc_range).
    assertThat(space.bind(GPU, 100, 0)).isEqualTo(1);
    assertThat(space.bind(GPU, 200, 0)).isEqualTo(2);
    // A second device binding the same mm shares its PASID.
    assertThat(space.bind(NIC, 100, 0)).isEqualTo(1);
    // Unbinding does not free the PASID: it lives with the mm (mm_pasid_drop at exit).
    space.unbind(GPU, 1);
    assertThat(space.hasPasid(100)).isTrue();
    assertThat(space.checkUse(GPU, 1)).isEqualTo(PasidSpace.Problem.AFTER_UNBIND);
    assertThat(space.checkUse(NIC, 1)).isNull();
    space.mmExit(100);
    assertThat(space.checkUse(NIC, 1)).isEqualTo(PasidSpace.Problem.AFTER_MM_EXIT);
    space.free(1);
    // A freed PASID is handed out again at once.
    assertThat(space.nextFreePasid()).isEqualTo(1);
    assertThat(space.bind(NIC, 300, 0)).isEqualTo(1);
    assertThat(space.checkUse(NIC, 1)).isNull();
    assertThat(space.checkUse(GPU, 7)).isEqualTo(PasidSpace.Problem.NEVER_BOUND);
  }

  @Test
  void aTracedPasidIsTakenAsItIs() {
    PasidSpace space = new PasidSpace();
    assertThat(space.bind(GPU, 100, 5)).isEqualTo(5);
    assertThat(space.nextFreePasid()).isEqualTo(1);
  }

  @Test
  void snapshotRoundTrip() {
    PasidSpace space = new PasidSpace();
    space.bind(GPU, 100, 0);
    space.bind(NIC, 200, 0);
    space.unbind(GPU, 1);
    space.mmExit(200);
    SnapshotOutput out = new SnapshotOutput();
    space.save(out);

    PasidSpace restored = PasidSpace.restore(new SnapshotInput(out.toByteArray()));

    assertThat(restored.checkUse(GPU, 1)).isEqualTo(PasidSpace.Problem.AFTER_UNBIND);
    assertThat(restored.checkUse(NIC, 2)).isEqualTo(PasidSpace.Problem.AFTER_MM_EXIT);
    assertThat(restored.hasPasid(100)).isTrue();
    assertThat(restored.nextFreePasid()).isEqualTo(3);
  }
}
