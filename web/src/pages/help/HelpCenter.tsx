export default function HelpCenter() {
  return <h1>HelpCenter</h1>;
}
