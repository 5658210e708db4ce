package io.iommureplay.cli;

import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code iommu-replay} command: one launcher, a subcommand per job (SPEC "Contract → Command
 * line").
 */
@Command(
    name = "iommu-replay",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Replays recorded IOMMU/DMA events against a model of the IOMMU and reports writer races, "
            + "use-after-unmap windows under lazy IOTLB flushing, and IOVA allocator fragmentation.",
    subcommands = {
      ImportCommand.class,
      ReplayCommand.class,
      GenerateCommand.class,
      CommandLine.HelpCommand.class
    })
public final class IommuReplay {
  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The configured command line, shared by main and the tests. */
  public static CommandLine commandLine() {
    return new CommandLine(new IommuReplay())
        .setExecutionExceptionHandler(
            (e, cmd, parsed) -> {
              cmd.getErr().println("iommu-replay " + cmd.getCommandName() + ": " + messageOf(e));
              if (System.getenv("IOMMU_REPLAY_DEBUG") != null) e.printStackTrace(cmd.getErr());
              return 2;
            });
  }

  private static String messageOf(Throwable e) {
    if (e instanceof NoSuchFileException f) return "no such file: " + f.getFile();
    if (e instanceof AccessDeniedException f) return "permission denied: " + f.getFile();
    if (e instanceof UncheckedIOException u) return messageOf(u.getCause());
    String message = e.getMessage();
    return message == null ? e.toString() : message;
  }
}
