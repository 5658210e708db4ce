package io.iommureplay.cli;

import picocli.CommandLine.IVersionProvider;

/** Version from the jar manifest, or "development" when run from classes. */
final class VersionProvider implements IVersionProvider {
  @Override
  public String[] getVersion() {
    String version = IommuReplay.class.getPackage().getImplementationVersion();
    return new String[] {"iommu-replay " + (version == null ? "development build" : version)};
  }
}
