-- Reasons for a return and their category, labels trimmed so that each reason is one slicer member.
SELECT
    m.ID_Motif,
    trim(m.Motif) AS Motif,
    trim(m.Categorie) AS Categorie
FROM {{ source('Dim_Motif_Retour') }} m
