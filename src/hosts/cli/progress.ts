// Progress on stderr while inspecting, only when stderr is a terminal.
export function progressReporter(stream: NodeJS.WriteStream) {
  if (!stream.isTTY) return undefined;
  let last = 0;
  return {
    update(p: { nodesDone: number; nodes: number; podsDone: number; pods: number }): void {
      const now = Date.now();
      if (now - last < 100 && p.podsDone < p.pods) return;
      last = now;
      stream.write(`\r\x1b[2Kinspecting: nodes ${p.nodesDone}/${p.nodes}, pods ${p.podsDone}/${p.pods}`);
    },
    done(): void {
      if (last > 0) stream.write('\r\x1b[2K');
    },
  };
}
