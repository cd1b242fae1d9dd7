export default function FaqsPage() {
  return <h2>FAQs</h2>;
}
