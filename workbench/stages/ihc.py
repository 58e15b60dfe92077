"""Inner-hair-cell envelope stages (dau1996, breebaart2001, king2019, paulick2024)."""
