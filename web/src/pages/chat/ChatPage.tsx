export default function ChatPage() {
  return <h1>ChatPage</h1>;
}
