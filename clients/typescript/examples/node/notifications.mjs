// Node example: print the notifications of a user, acking each one, and publish one message if asked.
//   node examples/node/notifications.mjs ws://localhost:5080/ws "$(dotnet run --project ../../src/Gateway -- token --user alice --publish 'team:*')" [team:42/alerts]
// Node 20 needs the optional peer dependency `ws` (npm i ws); Node 22+ uses its global WebSocket.
import { GatewayClient } from "@archmesh/gateway-client";

const [endpoint = "ws://localhost:5080/ws", token, publishTopic] = process.argv.slice(2);
if (!token) {
  console.error("usage: node notifications.mjs <ws-endpoint> <jwt> [topic-to-publish-to]");
  process.exit(2);
}

const client = await GatewayClient.connect({ endpoints: endpoint, token, clientName: "archmesh-node-example" });
client.on("state", ({ state }) => console.log(`[state] ${state}`));
client.on("recoveryFailed", ({ topic }) => console.log(`[recovery] could not recover ${topic} — refetch state`));
console.log(`connected as ${client.userId} to ${client.connection.nodeId}`);

if (publishTopic) {
  const { epoch, offset } = await client.publishJson(publishTopic, { hello: "from node" }, { priority: "high" });
  console.log(`published to ${publishTopic} at ${epoch}/${offset}`);
}

process.on("SIGINT", () => void client.close());
for await (const message of client.notifications()) {
  console.log(`[${message.topic} #${message.offset}${message.replayed ? " redelivered" : ""}] ${message.text()}`);
  client.ack(message);
}
