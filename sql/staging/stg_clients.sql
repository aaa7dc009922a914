-- Clients, one row per person (duplicates merged into the lowest ID), names and cities trimmed and
-- proper-cased as Power Query's Text.Proper does ("  casablanca" -> "Casablanca", accents kept), and the
-- missing values the reports must not show as blanks replaced.
SELECT
    c.ID_Client,
    c.Code_Client,
    initcap(trim(c.Prenom)) AS Prenom,
    initcap(trim(c.Nom)) AS Nom,
    initcap(trim(c.Nom_Complet)) AS Nom_Complet,
    lower(trim(c.Email)) AS Email,
    COALESCE(c.Telephone, 'Non renseigné') AS Telephone,
    c.Date_Inscription,
    COALESCE(initcap(trim(c.Ville)), 'Ville inconnue') AS Ville,
    c.Pays,
    c.Age,
    c.Genre,
    c.Segment_RFM,
    c.Score_Fidelite
FROM {{ source('Dim_Client') }} c
JOIN {{ ref('stg_client_survivors') }} s ON s.ID_Client = c.ID_Client
WHERE s.ID_Client = s.ID_Client_Survivant
