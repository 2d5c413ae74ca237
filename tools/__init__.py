"""Tools that act in the world, as LangChain tools returning typed observations."""
