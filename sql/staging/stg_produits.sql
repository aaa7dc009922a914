-- Products. Names and labels are trimmed (an XML export can pad them, and a padded name would be a second
-- member of a slicer); prices and costs become floats like the sales' amounts, so that price × quantity and
-- the margins are computed in one type.
SELECT
    p.ID_Produit,
    trim(p.SKU) AS SKU,
    trim(p.Nom_Produit) AS Nom_Produit,
    trim(p.Categorie) AS Categorie,
    trim(p.Sous_Categorie) AS Sous_Categorie,
    trim(p.Marque) AS Marque,
    CAST(p.Prix_Unitaire AS DOUBLE) AS Prix_Unitaire,
    CAST(p.Cout_Achat AS DOUBLE) AS Cout_Achat,
    CAST(p.Poids_Kg AS DOUBLE) AS Poids_Kg,
    p.Actif
FROM {{ source('Dim_Produit') }} p
