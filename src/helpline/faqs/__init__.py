"""The knowledge base: categories, FAQs, hybrid search, retrieval for the chat, votes, bulk
import/export, the demo knowledge base and the questions it could not answer."""
