/**
 * Test support shared by the packages' tests (library, CLI, chat): no package code, only Node.
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A port that nothing listens on until `release()`: the local port of an outgoing connection kept
 * open. Connecting to it is refused, and no other process takes it meanwhile (listening on it fails
 * with EADDRINUSE, and port 0 is never given it). The port of a server just closed is no such port:
 * it may be given to another test file's server (the files run side by side) before the connection
 * the test expects to be refused is made, and that connection then reaches that server.
 */
export async function refusedPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const accepted: Socket[] = [];
  const holder = createServer((socket) => accepted.push(socket.on('error', () => {})));
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const outgoing = connect((holder.address() as AddressInfo).port, '127.0.0.1');
  await once(outgoing, 'connect');
  return {
    port: outgoing.localPort as number,
    release: async () => {
      outgoing.destroy();
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => holder.close(resolve));
    },
  };
}
