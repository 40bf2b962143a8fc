"""Porous-media grids (seed 000 Sec. 4.2): the checked family a spec describes (`spec`),
one concrete draw of it (`rules`, `draw`), the directed acyclic graphs and rings (`dag`) and
the lowering of the rules to IR rows as whole arrays (`lower`)."""
